/**
 * Timing maths for clips: delays as viewers show them, and the constant frame rate (with each frame's
 * repeat count) that plays uneven GIF/WebP delays in an MP4 or WebM. Reading and writing the delays in
 * the files themselves is animation-timing.ts.
 */

/** MP4/WebM timing: a constant rate, with GIF frames repeated to honour uneven delays. */
export function encoderTiming(source: { delays?: readonly number[]; rate: string }): { rate: string; repeats?: number[] } {
  return source.delays ? rateForDelays(source.delays) : { rate: source.rate };
}

/** Delays as browsers show them: a GIF delay under 20 ms plays as 100 ms. */
export function displayDelays(delays: readonly number[]): number[] {
  return delays.map((d) => (d < 20 ? 100 : d));
}

/**
 * A constant frame rate for uneven delays: the largest step (a multiple of 10 ms, at least 20 ms)
 * that divides them all, and how many times each frame is repeated at that rate.
 */
export function rateForDelays(delays: readonly number[]): { rate: string; repeats: number[] } {
  const shown = displayDelays(delays).map((d) => Math.max(10, Math.round(d / 10) * 10));
  let step = shown.reduce((g, d) => gcd(g, d), 0);
  if (step < 20) step = 20;
  return { rate: `1000/${step}`, repeats: shown.map((d) => Math.max(1, Math.round(d / step))) };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export function sum(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0);
}
