import { describe, expect, it } from 'vitest';
import { formatWait, RateLimiter } from '#src/bots/rate-limit.ts';

function clocked(limit: number, windowMs: number) {
  const clock = { t: 1_000_000 };
  const limiter = new RateLimiter(limit, windowMs, () => clock.t);
  return { limiter, clock };
}

describe('RateLimiter', () => {
  it('allows up to the limit, then refuses with the exact wait until the oldest job leaves the window', () => {
    const { limiter, clock } = clocked(3, 60_000);
    expect(limiter.take('u')).toMatchObject({ ok: true });
    clock.t += 10_000;
    expect(limiter.take('u')).toMatchObject({ ok: true });
    clock.t += 5_000;
    expect(limiter.take('u')).toMatchObject({ ok: true });
    clock.t += 1_000;
    // Oldest at t0; now t0 + 16 s: 44 s to go.
    expect(limiter.take('u')).toEqual({ ok: false, retryAfterMs: 44_000 });
    clock.t += 4_000;
    expect(limiter.take('u')).toEqual({ ok: false, retryAfterMs: 40_000 });
  });

  it('refused attempts do not count against the user', () => {
    const { limiter, clock } = clocked(1, 1_000);
    expect(limiter.take('u').ok).toBe(true);
    for (let i = 0; i < 5; i++) expect(limiter.take('u').ok).toBe(false);
    clock.t += 1_000;
    expect(limiter.take('u').ok).toBe(true);
  });

  it('slides the window: each slot comes back exactly windowMs after it was taken', () => {
    const { limiter, clock } = clocked(2, 10_000);
    const start = clock.t;
    expect(limiter.take('u').ok).toBe(true); // at start
    clock.t = start + 6_000;
    expect(limiter.take('u').ok).toBe(true); // at start + 6 s
    clock.t = start + 9_999;
    expect(limiter.take('u')).toEqual({ ok: false, retryAfterMs: 1 });
    clock.t = start + 10_000; // the first slot is back, the second is not
    expect(limiter.take('u').ok).toBe(true);
    expect(limiter.take('u')).toEqual({ ok: false, retryAfterMs: 6_000 });
    clock.t = start + 16_000;
    expect(limiter.take('u').ok).toBe(true);
  });

  it('keeps keys independent', () => {
    const { limiter } = clocked(1, 60_000);
    expect(limiter.take('telegram:1').ok).toBe(true);
    expect(limiter.take('telegram:1').ok).toBe(false);
    expect(limiter.take('telegram:2').ok).toBe(true);
    expect(limiter.take('discord:1').ok).toBe(true);
    expect(limiter.take('telegram:2').ok).toBe(false);
  });

  it('refund gives the last slot back', () => {
    const { limiter, clock } = clocked(2, 60_000);
    expect(limiter.take('u').ok).toBe(true);
    clock.t += 1_000;
    expect(limiter.take('u').ok).toBe(true);
    expect(limiter.take('u').ok).toBe(false);
    limiter.refund('u');
    expect(limiter.take('u').ok).toBe(true);
    expect(limiter.take('u').ok).toBe(false);
  });

  it('refund with a time gives back that job, not a later one', () => {
    const { limiter, clock } = clocked(2, 60_000);
    const first = limiter.take('u');
    clock.t += 10_000;
    expect(limiter.take('u').ok).toBe(true);
    limiter.refund('u', first.ok ? first.at : -1); // the first job failed after the second started
    clock.t += 1_000;
    expect(limiter.take('u').ok).toBe(true);
    // Full again: the oldest job left is the second one, which leaves the window 59 s from now
    // (refunding the latest instead would have left the first, 49 s).
    expect(limiter.take('u')).toEqual({ ok: false, retryAfterMs: 59_000 });
  });

  it('refund of an unknown key is harmless', () => {
    const { limiter } = clocked(1, 60_000);
    expect(() => limiter.refund('nobody')).not.toThrow();
    expect(limiter.take('nobody').ok).toBe(true);
  });

  it('still answers correctly once many keys have been seen (pruning keeps live entries)', () => {
    const { limiter, clock } = clocked(1, 1_000);
    expect(limiter.take('keep').ok).toBe(true);
    clock.t += 500;
    for (let i = 0; i < 10_050; i++) limiter.take(`k${i}`);
    expect(limiter.take('keep')).toEqual({ ok: false, retryAfterMs: 500 });
    clock.t += 500;
    expect(limiter.take('keep').ok).toBe(true);
  });
});

describe('formatWait', () => {
  it('rounds up to whole seconds, at least 1 s', () => {
    expect(formatWait(0)).toBe('1 s');
    expect(formatWait(-50)).toBe('1 s');
    expect(formatWait(1)).toBe('1 s');
    expect(formatWait(1_000)).toBe('1 s');
    expect(formatWait(1_001)).toBe('2 s');
    expect(formatWait(45_000)).toBe('45 s');
  });

  it('switches to whole minutes (rounded up) from 90 s', () => {
    expect(formatWait(89_000)).toBe('89 s');
    expect(formatWait(90_000)).toBe('2 min');
    expect(formatWait(120_000)).toBe('2 min');
    expect(formatWait(121_000)).toBe('3 min');
    expect(formatWait(300_000)).toBe('5 min');
  });
});
