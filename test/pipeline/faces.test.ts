import { describe, expect, it } from 'vitest';
import { decodeYunet, intersectionOverUnion, nonMaxSuppression, toYunetInput, type Face } from '#src/pipeline/faces.ts';

/** Empty YuNet heads for a padded input, with helpers to light up one cell. */
function heads(width: number, height: number) {
  const out: Record<string, Float32Array> = {};
  for (const s of [8, 16, 32]) {
    const cells = (width / s) * (height / s);
    out[`cls_${s}`] = new Float32Array(cells);
    out[`obj_${s}`] = new Float32Array(cells);
    out[`bbox_${s}`] = new Float32Array(cells * 4);
    out[`kps_${s}`] = new Float32Array(cells * 10);
  }
  const set = (s: number, col: number, row: number, cls: number, obj: number, bbox: number[], kps: number[]) => {
    const i = row * (width / s) + col;
    out[`cls_${s}`][i] = cls;
    out[`obj_${s}`][i] = obj;
    out[`bbox_${s}`].set(bbox, i * 4);
    out[`kps_${s}`].set(kps, i * 10);
  };
  return { out, set };
}

describe('YuNet decode', () => {
  it('decodes score, box and landmarks of a cell at each stride', () => {
    const { out, set } = heads(128, 64);
    // stride 16, cell (col 3, row 2): centre offset (0.5, 0.25), size exp(1)*16 by exp(0.5)*16.
    set(16, 3, 2, 0.81, 1, [0.5, 0.25, 1, 0.5], [0, 0, 1, 0, 0.5, 0.5, 0, 1, 1, 1]);
    const faces = decodeYunet(out, 128, 64, 0.5);
    expect(faces).toHaveLength(1);
    const [f] = faces;
    expect(f.score).toBeCloseTo(0.9, 5); // sqrt(0.81 * 1)
    const w = Math.exp(1) * 16;
    const h = Math.exp(0.5) * 16;
    expect(f.box.x).toBeCloseTo((3 + 0.5) * 16 - w / 2, 4);
    expect(f.box.y).toBeCloseTo((2 + 0.25) * 16 - h / 2, 4);
    expect(f.box.width).toBeCloseTo(w, 4);
    expect(f.box.height).toBeCloseTo(h, 4);
    expect(f.landmarks[0]).toEqual([48, 32]);
    expect(f.landmarks[1]).toEqual([64, 32]);
    expect(f.landmarks[2]).toEqual([56, 40]);
    expect(f.landmarks[4]).toEqual([64, 48]);
  });

  it('drops cells under the threshold and clamps out-of-range probabilities', () => {
    const { out, set } = heads(64, 64);
    set(8, 1, 1, 0.3, 0.3, [0, 0, 0, 0], new Array(10).fill(0)); // score 0.3
    set(32, 1, 1, 1.7, 0.64, [0, 0, 0, 0], new Array(10).fill(0)); // cls clamps to 1 → 0.8
    set(32, 0, 0, -0.5, 1, [0, 0, 0, 0], new Array(10).fill(0)); // negative → 0
    const faces = decodeYunet(out, 64, 64, 0.6);
    expect(faces).toHaveLength(1);
    expect(faces[0].score).toBeCloseTo(0.8, 5);
  });
});

describe('YuNet input', () => {
  it('is planar BGR in raw 0..255, zero-padded to the padded size', () => {
    const image = { width: 2, height: 1, data: new Float32Array([255, 10, 0, 1, 2, 3]) }; // red, then (1,2,3)
    const tensor = toYunetInput(image, 4, 2);
    const plane = 8;
    expect(tensor.length).toBe(3 * plane);
    expect([tensor[0], tensor[plane], tensor[2 * plane]]).toEqual([0, 10, 255]); // B, G, R of the red pixel
    expect([tensor[1], tensor[plane + 1], tensor[2 * plane + 1]]).toEqual([3, 2, 1]);
    expect(tensor[2]).toBe(0); // padding
    expect(tensor[4]).toBe(0);
  });
});

describe('non-maximum suppression', () => {
  const face = (x: number, y: number, size: number, score: number): Face => ({
    box: { x, y, width: size, height: size },
    score,
    landmarks: [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
    ],
  });

  it('computes IoU', () => {
    expect(intersectionOverUnion({ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 0, width: 10, height: 10 })).toBeCloseTo(50 / 150);
    expect(intersectionOverUnion({ x: 0, y: 0, width: 10, height: 10 }, { x: 20, y: 0, width: 10, height: 10 })).toBe(0);
  });

  it('keeps the best of overlapping boxes and every separate face', () => {
    const kept = nonMaxSuppression(
      [face(0, 0, 100, 0.7), face(5, 5, 100, 0.9), face(300, 0, 80, 0.8), face(2, 0, 100, 0.75)],
      0.3,
    );
    expect(kept.map((f) => f.score)).toEqual([0.9, 0.8]);
  });
});
