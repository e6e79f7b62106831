import { describe, expect, it } from 'vitest';
import { reflectIndex, reflectPad, resizeImage, roundUpTo, unpad } from '#src/pipeline/image.ts';
import { synthetic } from '../helpers/fixtures.ts';

describe('pad / unpad', () => {
  it('mirrors indices without repeating the edge pixel twice in a row beyond the edge', () => {
    expect([-3, -2, -1, 0, 1, 2, 3, 4, 5, 6].map((i) => reflectIndex(i, 4))).toEqual([2, 1, 0, 0, 1, 2, 3, 3, 2, 1]);
    expect(reflectIndex(100, 1)).toBe(0);
    // Any distance stays in range.
    for (let i = -50; i < 50; i++) {
      const r = reflectIndex(i, 3);
      expect(r).toBeGreaterThanOrEqual(0);
      expect(r).toBeLessThan(3);
    }
  });

  it('pads to a multiple of 8 by reflection and unpads back to the identical image', () => {
    const img = synthetic(13, 7, (x, y, c) => x * 10 + y + c * 0.1);
    const padded = reflectPad(img, roundUpTo(13, 8), roundUpTo(7, 8));
    expect(padded.width).toBe(16);
    expect(padded.height).toBe(8);
    // Column 13 mirrors column 12, column 14 mirrors column 11.
    const at = (im: typeof img, x: number, y: number, c: number) => im.data[(y * im.width + x) * 3 + c];
    expect(at(padded, 13, 2, 0)).toBe(at(img, 12, 2, 0));
    expect(at(padded, 14, 2, 1)).toBe(at(img, 11, 2, 1));
    expect(at(padded, 5, 7, 2)).toBe(at(img, 5, 6, 2));
    const back = unpad(padded, 13, 7);
    expect(back.width).toBe(13);
    expect(Array.from(back.data)).toEqual(Array.from(img.data));
  });

  it('pads images smaller than the padding (reflection wraps)', () => {
    const img = synthetic(2, 2, (x, y) => x + 2 * y);
    const padded = reflectPad(img, 8, 8);
    expect(padded.data.every((v) => v >= 0 && v <= 3)).toBe(true);
  });
});

describe('resize', () => {
  it('keeps a constant image constant and averages when shrinking a lot', () => {
    const flat = synthetic(100, 60, () => 77);
    const small = resizeImage(flat, 9, 5);
    expect(small.data.every((v) => Math.abs(v - 77) < 1e-4)).toBe(true);
    // A 1-px checkerboard shrunk 10x averages to grey instead of aliasing.
    const checker = synthetic(200, 200, (x, y) => ((x + y) % 2 ? 255 : 0));
    const grey = resizeImage(checker, 20, 20);
    for (const v of grey.data) expect(Math.abs(v - 127.5)).toBeLessThan(8);
  });
});

describe('lanczos resize', () => {
  it('keeps colours (a constant picture stays that colour) and reaches the asked size', async () => {
    const { resizeImageLanczos } = await import('#src/pipeline/image.ts');
    const flat = synthetic(40, 30, (_x, _y, c) => [200, 120, 40][c]);
    const big = await resizeImageLanczos(flat, 61, 47);
    expect([big.width, big.height]).toEqual([61, 47]);
    for (let i = 0; i < big.data.length; i += 3) {
      expect([big.data[i], big.data[i + 1], big.data[i + 2]]).toEqual([200, 120, 40]);
    }
  });
});
