import { describe, it, expect } from 'vitest';
import { fastCloneBox, seamlessClone } from '#src/pipeline/poisson.ts';
import { blendImages, clampRect, createImage, createMask } from '#src/pipeline/image.ts';
import type { Image, Mask, Rect } from '#src/pipeline/image.ts';
import { isSmooth } from '#src/pipeline/fft.ts';
import { seededRandom } from '../helpers/random.ts';

type Fill = (x: number, y: number, c: number) => number;

function makeImage(width: number, height: number, fill: Fill): Image {
  const image = createImage(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) image.data[3 * (y * width + x) + c] = fill(x, y, c);
    }
  }
  return image;
}

function makeMask(width: number, height: number, fill: (x: number, y: number) => number): Mask {
  const mask = createMask(width, height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) mask.data[y * width + x] = fill(x, y);
  return mask;
}

function at(image: Image, x: number, y: number, c: number): number {
  return image.data[3 * (y * image.width + x) + c];
}

function inBox(x: number, y: number, r: Rect): boolean {
  return x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
}

function onRing(x: number, y: number, r: Rect): boolean {
  return inBox(x, y, r) && (x === r.x || y === r.y || x === r.x + r.width - 1 || y === r.y + r.height - 1);
}

/** Largest |out − expected| over the box's pixels and channels. */
function maxErrorInBox(out: Image, box: Rect, expected: (x: number, y: number, c: number) => number): number {
  let err = 0;
  for (let y = box.y; y < box.y + box.height; y++) {
    for (let x = box.x; x < box.x + box.width; x++) {
      for (let c = 0; c < 3; c++) err = Math.max(err, Math.abs(at(out, x, y, c) - expected(x, y, c)));
    }
  }
  return err;
}

const random = seededRandom;

/** Largest |difference| between horizontally or vertically adjacent pixels with `select`(x, y). */
function maxJump(image: Image, select: (x: number, y: number) => boolean = () => true): number {
  let jump = 0;
  for (let y = 0; y < image.height - 1; y++) {
    for (let x = 0; x < image.width - 1; x++) {
      if (!select(x, y)) continue;
      for (let c = 0; c < 3; c++) {
        const v = at(image, x, y, c);
        jump = Math.max(jump, Math.abs(at(image, x + 1, y, c) - v), Math.abs(at(image, x, y + 1, c) - v));
      }
    }
  }
  return jump;
}

const gradient: Fill = (x, y, c) => 40 + 0.9 * x + 0.5 * y + 20 * c;

describe('seamlessClone', () => {
  it('gives a constant-colour patch the linear gradient it is cloned onto', () => {
    const W = 96;
    const H = 80;
    const dst = makeImage(W, H, gradient);
    const src = makeImage(W, H, (_x, _y, c) => [230, 10, 128][c]);
    const box = { x: 20, y: 12, width: 57, height: 50 };
    // mask = 1 on the box's square: the guidance is 0 everywhere, so f is harmonic with the
    // gradient's boundary values, i.e. the gradient itself.
    const mask = makeMask(W, H, (x, y) => (inBox(x, y, box) ? 1 : 0));
    const out = seamlessClone(dst, src, mask, box);
    const err = maxErrorInBox(out, box, gradient);
    expect(err).toBeLessThan(0.5);
    expect(err).toBeLessThan(1e-3); // in fact exact up to float rounding
  });

  it('does the same for a disc mask around the box', () => {
    const W = 120;
    const H = 110;
    const dst = makeImage(W, H, gradient);
    const src = makeImage(W, H, () => 200);
    const mask = makeMask(W, H, (x, y) => (Math.hypot(x - 60, y - 55) <= 50 ? 1 : 0));
    const box = { x: 30, y: 25, width: 60, height: 61 }; // inside the disc
    const out = seamlessClone(dst, src, mask, box);
    const err = maxErrorInBox(out, box, gradient);
    expect(err).toBeLessThan(0.5);
  });

  it("keeps src's gradients inside the mask and dst on the box ring", () => {
    const W = 120;
    const H = 120;
    const cx = 60;
    const cy = 60;
    const R = 35;
    // src: a sinusoidal texture on a flat background of another colour than dst. The texture fades
    // out towards the mask edge: inside the mask the solution is src plus a harmonic function that
    // takes up the mismatch with dst along the edge, here ≈ dst's linear slope (0.3, 0.2).
    const src = makeImage(W, H, (x, y, c) => {
      const env = Math.cos((Math.min(1, Math.hypot(x - cx, y - cy) / R) * Math.PI) / 2) ** 2;
      return 140 + 5 * c + 30 * env * Math.sin((2 * Math.PI * x) / 9 + c) * Math.cos((2 * Math.PI * y) / 13);
    });
    const dst = makeImage(W, H, (x, y, c) => 60 + 0.3 * x + 0.2 * y + 10 * c);
    const mask = makeMask(W, H, (x, y) => (Math.hypot(x - cx, y - cy) <= R ? 1 : 0));
    const box = { x: 10, y: 10, width: 100, height: 100 };
    const out = seamlessClone(dst, src, mask, box);

    const inside = (x: number, y: number) => Math.hypot(x - cx, y - cy) <= R - 2;
    let err = 0;
    let srcGradient = 0;
    for (let y = 0; y < H - 1; y++) {
      for (let x = 0; x < W - 1; x++) {
        if (!inside(x, y) || !inside(x + 1, y) || !inside(x, y + 1)) continue;
        for (let c = 0; c < 3; c++) {
          const dsx = at(src, x + 1, y, c) - at(src, x, y, c);
          const dsy = at(src, x, y + 1, c) - at(src, x, y, c);
          const dfx = at(out, x + 1, y, c) - at(out, x, y, c);
          const dfy = at(out, x, y + 1, c) - at(out, x, y, c);
          err = Math.max(err, Math.abs(dfx - dsx), Math.abs(dfy - dsy));
          srcGradient = Math.max(srcGradient, Math.abs(dsx), Math.abs(dsy));
        }
      }
    }
    expect(srcGradient).toBeGreaterThan(15); // the texture is really there
    expect(err).toBeLessThan(0.35);

    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (!onRing(x, y, box)) continue;
        for (let c = 0; c < 3; c++) expect(at(out, x, y, c)).toBe(at(dst, x, y, c));
      }
    }
  });

  // Box shapes that exercise each solver path: transform along x (width − 1 5-smooth), along y
  // (only height − 1 5-smooth), and neither (Bluestein underneath).
  it.each([
    ['x fast', { x: 3, y: 4, width: 33, height: 30 }],
    ['y fast', { x: 5, y: 2, width: 30, height: 41 }],
    ['neither fast', { x: 1, y: 3, width: 38, height: 36 }],
  ] as const)('solves the discrete Poisson equation exactly (%s)', (_name, box) => {
    const W = 44;
    const H = 46;
    const rand = random(box.width * 100 + box.height);
    const dst = makeImage(W, H, (x, y, c) => 110 + 25 * Math.sin(x / 5 + c) + 15 * rand());
    const src = makeImage(W, H, (x, y, c) => 130 + 25 * Math.cos(y / 4 - c) + 15 * rand());
    const mask = makeMask(W, H, () => rand());
    const out = seamlessClone(dst, src, mask, box);

    // Guidance v = m̄·∇src + (1 − m̄)·∇dst with forward differences and m̄ the mask averaged over
    // the difference's two pixels; the solution must satisfy ∇²f = div v at every unknown.
    const m = (x: number, y: number) => mask.data[y * W + x];
    const vx = (x: number, y: number, c: number) => {
      const w = 0.5 * (m(x, y) + m(x + 1, y));
      return w * (at(src, x + 1, y, c) - at(src, x, y, c)) + (1 - w) * (at(dst, x + 1, y, c) - at(dst, x, y, c));
    };
    const vy = (x: number, y: number, c: number) => {
      const w = 0.5 * (m(x, y) + m(x, y + 1));
      return w * (at(src, x, y + 1, c) - at(src, x, y, c)) + (1 - w) * (at(dst, x, y + 1, c) - at(dst, x, y, c));
    };
    let residual = 0;
    let lowest = Infinity;
    let highest = -Infinity;
    for (let y = box.y + 1; y < box.y + box.height - 1; y++) {
      for (let x = box.x + 1; x < box.x + box.width - 1; x++) {
        for (let c = 0; c < 3; c++) {
          const f = at(out, x, y, c);
          lowest = Math.min(lowest, f);
          highest = Math.max(highest, f);
          const laplacian =
            at(out, x + 1, y, c) + at(out, x - 1, y, c) + at(out, x, y + 1, c) + at(out, x, y - 1, c) - 4 * f;
          const div = vx(x, y, c) - vx(x - 1, y, c) + vy(x, y, c) - vy(x, y - 1, c);
          residual = Math.max(residual, Math.abs(laplacian - div));
        }
      }
    }
    // No clamping happened, so the equation must hold up to float32 storage.
    expect(lowest).toBeGreaterThan(0);
    expect(highest).toBeLessThan(255);
    expect(residual).toBeLessThan(2e-3);
  });

  it('leaves dst as it is when the mask is all zero', () => {
    const W = 70;
    const H = 60;
    const dst = makeImage(W, H, (x, y, c) => 100 + 50 * Math.sin(x / 3 + y / 7 + c));
    const src = makeImage(W, H, (x, y, c) => 255 * ((x + y + c) % 2));
    const mask = createMask(W, H, 0);
    const out = seamlessClone(dst, src, mask, { x: 5, y: 5, width: 60, height: 50 });
    let err = 0;
    for (let i = 0; i < dst.data.length; i++) err = Math.max(err, Math.abs(out.data[i] - dst.data[i]));
    expect(err).toBeLessThan(1e-3);
  });

  it('changes nothing outside the box and does not modify its inputs', () => {
    const W = 64;
    const H = 48;
    const dst = makeImage(W, H, gradient);
    const src = makeImage(W, H, (x, y, c) => 200 - 2 * x + 3 * c + 10 * Math.sin(y));
    const mask = makeMask(W, H, (x, y) => (Math.hypot(x - 30, y - 24) < 12 ? 1 : 0));
    const copies = [dst.data.slice(), src.data.slice(), mask.data.slice()];
    const box = { x: 12, y: 8, width: 36, height: 31 };
    const out = seamlessClone(dst, src, mask, box);

    expect(out).not.toBe(dst);
    expect(out.data).not.toBe(dst.data);
    expect(out.width).toBe(W);
    expect(out.height).toBe(H);
    let changedInside = false;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let c = 0; c < 3; c++) {
          const i = 3 * (y * W + x) + c;
          if (!inBox(x, y, box) || onRing(x, y, box)) expect(out.data[i]).toBe(dst.data[i]);
          else if (out.data[i] !== dst.data[i]) changedInside = true;
        }
      }
    }
    expect(changedInside).toBe(true);
    expect(dst.data).toEqual(copies[0]);
    expect(src.data).toEqual(copies[1]);
    expect(mask.data).toEqual(copies[2]);
  });

  it('clamps a box that reaches outside the image', () => {
    const W = 50;
    const H = 40;
    const dst = makeImage(W, H, gradient);
    const src = makeImage(W, H, (x, y, c) => 150 + 20 * Math.sin(x / 4) * Math.cos(y / 5) + c);
    const mask = makeMask(W, H, (x, y) => (x < 20 && y < 15 ? 1 : 0));
    const box = { x: -10, y: -6, width: 45, height: 36 };
    const clamped = clampRect(box, W, H);
    expect(clamped).toEqual({ x: 0, y: 0, width: 35, height: 30 });
    const out = seamlessClone(dst, src, mask, box);
    expect(out.data).toEqual(seamlessClone(dst, src, mask, clamped).data);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (inBox(x, y, clamped) && !onRing(x, y, clamped)) continue;
        for (let c = 0; c < 3; c++) expect(at(out, x, y, c)).toBe(at(dst, x, y, c));
      }
    }
    expect(out.data.some((v, i) => v !== dst.data[i])).toBe(true);
  });

  it('returns a copy of dst for boxes with no unknowns', () => {
    const W = 20;
    const H = 20;
    const dst = makeImage(W, H, gradient);
    const src = makeImage(W, H, () => 255);
    const mask = createMask(W, H, 1);
    const boxes: Rect[] = [
      { x: 5, y: 5, width: 2, height: 2 },
      { x: 5, y: 5, width: 10, height: 2 },
      { x: 5, y: 5, width: 0, height: 0 },
      { x: 30, y: 30, width: 10, height: 10 },
      { x: Number.NaN, y: 2, width: 10, height: 10 },
    ];
    for (const box of boxes) {
      const out = seamlessClone(dst, src, mask, box);
      expect(out.data).not.toBe(dst.data);
      expect(out.data).toEqual(dst.data);
    }
  });

  it('never produces NaN, even from NaN or out-of-range inputs', () => {
    const W = 40;
    const H = 36;
    const dst = makeImage(W, H, gradient);
    const src = makeImage(W, H, (x, y, c) => (x === 15 && y === 12 && c === 1 ? Number.NaN : 500 * Math.sin(x + y)));
    const mask = makeMask(W, H, (x, y) => (x === 20 && y === 20 ? Number.NaN : x > 10 ? 1.5 : -0.5));
    const out = seamlessClone(dst, src, mask, { x: 2, y: 2, width: 35, height: 31 });
    expect(out.data.every((v) => Number.isFinite(v) && v >= 0 && v <= 255)).toBe(true);
  });

  it('leaves no visible seam with a feathered mask', () => {
    const W = 140;
    const H = 120;
    const cx = 70;
    const cy = 60;
    const R = 30;
    const feather = 10;
    // Very different colours, each smooth: pasting src would make a step of more than 100.
    const dst = makeImage(W, H, (x, y, c) => 50 + 0.4 * x + 0.2 * y + 15 * c + 6 * Math.sin(y / 11));
    const src = makeImage(W, H, (x, y, c) => 200 - 0.3 * x + 0.35 * y - 20 * c + 5 * Math.cos(x / 9));
    const mask = makeMask(W, H, (x, y) => Math.min(1, Math.max(0, (R - Math.hypot(x - cx, y - cy)) / feather + 0.5)));
    const out = seamlessClone(dst, src, mask, { x: 20, y: 10, width: 100, height: 100 });

    const across = (x: number, y: number) => Math.abs(Math.hypot(x - cx, y - cy) - R) < feather;
    const seam = maxJump(out, across);
    const reference = Math.max(maxJump(src), maxJump(dst));
    const alphaBlend = maxJump(blendImages(dst, src, mask), across);
    // Poisson cloning matches gradients, not values: the only jumps left are those of the images.
    // They can exceed the larger of src's and dst's by up to half the gradient mismatch (the field
    // of the "polarised" mask region), so the bound is twice the largest jump, not the jump itself.
    expect(seam).toBeLessThanOrEqual(2 * reference);
    expect(alphaBlend).toBeGreaterThan(10 * reference); // what a seam looks like
    expect(seam).toBeLessThan(alphaBlend / 10);
  });

  it('rejects images and masks of different sizes', () => {
    const a = createImage(10, 10);
    const b = createImage(10, 11);
    expect(() => seamlessClone(a, b, createMask(10, 10), { x: 0, y: 0, width: 10, height: 10 })).toThrow(RangeError);
    expect(() => seamlessClone(a, a, createMask(9, 10), { x: 0, y: 0, width: 10, height: 10 })).toThrow(RangeError);
  });
});

describe('fastCloneBox', () => {
  const fast = (r: Rect) => isSmooth(r.width - 1) || isSmooth(r.height - 1);

  it('grows a box, within the image, to a size on the fast path', () => {
    const box = { x: 100, y: 80, width: 512, height: 512 }; // 511 = 7·73 on both sides
    const grown = fastCloneBox(box, 800, 700);
    expect(fast(box)).toBe(false);
    expect(fast(grown)).toBe(true);
    expect(grown.x).toBeLessThanOrEqual(box.x);
    expect(grown.y).toBeLessThanOrEqual(box.y);
    expect(grown.x + grown.width).toBeGreaterThanOrEqual(box.x + box.width);
    expect(grown.y + grown.height).toBeGreaterThanOrEqual(box.y + box.height);
    expect(grown.width * grown.height).toBe(513 * 512); // one pixel more along one side
  });

  it('keeps a box that is already fast and shifts a grown one back inside the image', () => {
    expect(fastCloneBox({ x: 3, y: 4, width: 257, height: 100 }, 300, 300)).toEqual({ x: 3, y: 4, width: 257, height: 100 });
    const grown = fastCloneBox({ x: 0, y: 0, width: 38, height: 36 }, 40, 37);
    expect(fast(grown)).toBe(true);
    expect(grown.x).toBeGreaterThanOrEqual(0);
    expect(grown.y).toBeGreaterThanOrEqual(0);
    expect(grown.x + grown.width).toBeLessThanOrEqual(40);
    expect(grown.y + grown.height).toBeLessThanOrEqual(37);
  });

  it('returns the clamped box when the image leaves no room', () => {
    expect(fastCloneBox({ x: -5, y: 0, width: 60, height: 60 }, 36, 38)).toEqual({ x: 0, y: 0, width: 36, height: 38 });
  });
});
