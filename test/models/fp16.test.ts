import { describe, expect, it } from 'vitest';
import { decodeFloat16, encodeFloat16, floatToHalfBits, halfBitsToFloat } from '#src/models/fp16.ts';

describe('float16 codec', () => {
  it('encodes known values to their IEEE-754 half bit patterns', () => {
    expect(floatToHalfBits(0)).toBe(0x0000);
    expect(floatToHalfBits(-0)).toBe(0x8000);
    expect(floatToHalfBits(1)).toBe(0x3c00);
    expect(floatToHalfBits(-2)).toBe(0xc000);
    expect(floatToHalfBits(0.5)).toBe(0x3800);
    expect(floatToHalfBits(65504)).toBe(0x7bff); // largest finite half
    expect(floatToHalfBits(1e6)).toBe(0x7c00); // overflow → +Inf
    expect(floatToHalfBits(Infinity)).toBe(0x7c00);
    expect(floatToHalfBits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(floatToHalfBits(1e-9)).toBe(0x0000); // underflow
    expect(floatToHalfBits(NaN) & 0x7c00).toBe(0x7c00);
    expect(floatToHalfBits(NaN) & 0x3ff).not.toBe(0);
  });

  it('rounds to nearest, ties to even', () => {
    // 1 + 2^-11 lies exactly between 1 and 1 + 2^-10: ties to the even mantissa (1.0).
    expect(floatToHalfBits(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3·2^-11 lies between 1+2^-10 (odd) and 1+2^-9 (even): rounds up to even.
    expect(floatToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToHalfBits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
  });

  it('round-trips every finite half exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      const exp = (h >> 10) & 0x1f;
      if (exp === 0x1f) continue; // Inf/NaN
      expect(floatToHalfBits(halfBitsToFloat(h))).toBe(h);
    }
  });

  it('round-trips model-range values within half precision', () => {
    const values = new Float32Array(10001);
    for (let i = 0; i < values.length; i++) values[i] = -1 + (2 * i) / (values.length - 1);
    const back = decodeFloat16(encodeFloat16(values));
    for (let i = 0; i < values.length; i++) {
      expect(Math.abs(back[i] - values[i])).toBeLessThanOrEqual(Math.abs(values[i]) * 2 ** -11 + 2 ** -25);
    }
  });
});
