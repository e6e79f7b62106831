import { describe, expect, it } from 'vitest';
import { boxBlur, detectEdges, gaussianBlur, smoothPreservingEdges } from '#src/pipeline/filters.ts';

function naiveBoxBlur(src: Float32Array, w: number, h: number, r: number, ch: number): Float32Array {
  // Separable clamped-edge box mean, the slow obvious way.
  const clamp = (v: number, n: number) => Math.min(n - 1, Math.max(0, v));
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < ch; c++) {
        let s = 0;
        for (let k = -r; k <= r; k++) s += src[(y * w + clamp(x + k, w)) * ch + c];
        tmp[(y * w + x) * ch + c] = s / (2 * r + 1);
      }
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < ch; c++) {
        let s = 0;
        for (let k = -r; k <= r; k++) s += tmp[(clamp(y + k, h) * w + x) * ch + c];
        out[(y * w + x) * ch + c] = s / (2 * r + 1);
      }
  return out;
}

describe('box blur', () => {
  it('matches the naive clamped box mean for every radius, including radii beyond the image', () => {
    for (const [w, h, ch] of [
      [17, 11, 1],
      [9, 23, 3],
      [1, 5, 3],
      [40, 3, 1],
    ]) {
      const src = new Float32Array(w * h * ch).map((_, i) => (i * 37) % 101);
      for (const r of [1, 2, 4, 8, 30]) {
        const fast = boxBlur(src, w, h, r, ch);
        const slow = naiveBoxBlur(src, w, h, r, ch);
        for (let i = 0; i < src.length; i++) expect(Math.abs(fast[i] - slow[i])).toBeLessThan(1e-3);
      }
    }
  });

  it('gaussian blur keeps the mean and spreads an impulse symmetrically', () => {
    const w = 41;
    const src = new Float32Array(w * w);
    src[20 * w + 20] = 1000;
    const out = gaussianBlur(src, w, w, 3);
    const sum = out.reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1000, 0);
    expect(out[20 * w + 17]).toBeCloseTo(out[20 * w + 23], 4);
    expect(out[17 * w + 20]).toBeCloseTo(out[20 * w + 17], 4);
  });
});

describe('edge-preserving smoothing', () => {
  it('flattens noise inside regions and keeps a step edge sharp', () => {
    const w = 120;
    const h = 80;
    const data = new Float32Array(w * h * 3);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = (x < 60 ? 50 : 200) + (((x * 13 + y * 7 + c) % 11) - 5) * 2;
    const out = smoothPreservingEdges(data, w, h, 6, 400);
    const at = (x: number, y: number) => out[(y * w + x) * 3];
    // Noise (±10) reduced inside both halves.
    expect(Math.abs(at(20, 40) - 50)).toBeLessThan(4);
    expect(Math.abs(at(100, 40) - 200)).toBeLessThan(4);
    // The step stays a step: two pixels either side keep most of the 150 jump.
    expect(at(62, 40) - at(57, 40)).toBeGreaterThan(120);
  });
});

describe('canny edges', () => {
  it('finds a one-pixel-wide line along a step and nothing on a flat picture', () => {
    const w = 64;
    const h = 48;
    const step = new Float32Array(w * h).map((_, i) => (i % w < 32 ? 40 : 200));
    const edges = detectEdges(step, w, h, { sigma: 1, highQuantile: 0.9, lowRatio: 0.4, minHigh: 3 });
    for (let y = 5; y < h - 5; y++) {
      const row = Array.from(edges.subarray(y * w, (y + 1) * w));
      expect(row.reduce((a, b) => a + b, 0)).toBe(1);
      expect(Math.abs(row.indexOf(1) - 31.5)).toBeLessThanOrEqual(1);
    }
    const flat = detectEdges(new Float32Array(w * h).fill(90), w, h, { sigma: 1, highQuantile: 0.9, lowRatio: 0.4, minHigh: 3 });
    expect(flat.reduce((a, b) => a + b, 0)).toBe(0);
  });
});
