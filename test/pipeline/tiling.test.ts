import { describe, expect, it } from 'vitest';
import { boxBlur } from '#src/pipeline/filters.ts';
import type { Image } from '#src/pipeline/image.ts';
import { planAxis, planTiles, runTiled } from '#src/pipeline/tiling.ts';
import { synthetic } from '../helpers/fixtures.ts';

const smoothPhoto = synthetic(301, 217, (x, y, c) => 128 + 60 * Math.sin(x / 23 + c) * Math.cos(y / 17) + 0.2 * x - 0.1 * y);

function maxDiff(a: Image, b: Image): number {
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
  return m;
}

describe('tile planning', () => {
  it('covers the axis with tiles that overlap by at least the overlap', () => {
    for (const [length, tile, overlap] of [
      [1000, 256, 32],
      [513, 512, 64],
      [300, 512, 64],
      [2049, 640, 64],
    ]) {
      const starts = planAxis(length, tile, overlap);
      const size = Math.min(tile, length);
      expect(starts[0]).toBe(0);
      expect(starts[starts.length - 1] + size).toBe(length);
      for (let i = 1; i < starts.length; i++) expect(starts[i - 1] + size - starts[i]).toBeGreaterThanOrEqual(overlap);
    }
    expect(planTiles(300, 200, 512, 512, 64)).toEqual([{ x: 0, y: 0, width: 300, height: 200 }]);
  });
});

describe('tiled processing', () => {
  it('stitches an identity model back into the exact image', async () => {
    const out = await runTiled(smoothPhoto, { tileWidth: 96, tileHeight: 80, overlap: 16 }, async (tile) => tile);
    expect(maxDiff(out, smoothPhoto)).toBeLessThan(1e-3);
  });

  it('equals the untiled result of a local (smooth) model within tolerance: no seam', async () => {
    // A 5x5 box blur is a local "model": with overlap ≥ its reach, only tile borders differ, and the
    // feathered weights hide them.
    const blur = async (img: Image): Promise<Image> => ({ ...img, data: boxBlur(img.data, img.width, img.height, 2, 3) });
    const untiled = await blur(smoothPhoto);
    const tiled = await runTiled(smoothPhoto, { tileWidth: 96, tileHeight: 80, overlap: 24 }, blur);
    expect(maxDiff(tiled, untiled)).toBeLessThan(1.0);
  });

  it('hides a per-tile offset (like per-tile normalisation) without a visible step', async () => {
    // Each tile comes back shifted by a different constant: the stitched image must change smoothly,
    // never by more than a small step between neighbouring pixels.
    let k = 0;
    const shifting = async (img: Image): Promise<Image> => {
      const shift = (k++ % 3) * 6;
      return { ...img, data: img.data.map((v) => v + shift) };
    };
    const flat = synthetic(400, 300, () => 100);
    const out = await runTiled(flat, { tileWidth: 128, tileHeight: 128, overlap: 48 }, shifting);
    let maxStep = 0;
    for (let y = 0; y < out.height; y++) {
      for (let x = 1; x < out.width; x++) {
        const i = (y * out.width + x) * 3;
        maxStep = Math.max(maxStep, Math.abs(out.data[i] - out.data[i - 3]));
      }
    }
    expect(maxStep).toBeLessThan(0.5); // a 12-level jump spread over ≥ 48 px
  });

  it('supports models that change the size (×4 upscalers)', async () => {
    const up = async (img: Image): Promise<Image> => {
      const w = img.width * 4;
      const h = img.height * 4;
      const data = new Float32Array(w * h * 3);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = img.data[((y >> 2) * img.width + (x >> 2)) * 3 + c];
      return { width: w, height: h, data };
    };
    const small = synthetic(70, 50, (x, y, c) => x + y + c);
    const whole = await up(small);
    const tiled = await runTiled(small, { tileWidth: 32, tileHeight: 32, overlap: 8, scale: 4 }, up);
    expect(tiled.width).toBe(280);
    expect(maxDiff(tiled, whole)).toBeLessThan(1e-3);
  });
});
