/**
 * Inpainting quality on synthetic holes, shared by test/pipeline/inpaint.test.ts and the bench: a
 * person-shaped hole cut from a photo with nobody in it, so the truth under the hole is known.
 *
 * - PSNR over the hole's pixels (RGB).
 * - SSIM over the hole: luma, 7×7 uniform windows (scikit-image's default), averaged over the windows
 *   centred on hole pixels; windows near the hole's edge include some known pixels, as in any
 *   masked SSIM.
 * - Detail: mean luma gradient inside the hole relative to the truth's (≈ 1 for a fill with the
 *   photo's texture, near 0 for a smear). PSNR and SSIM reward a blurred guess over a sharp plausible
 *   one wherever the truth cannot be predicted, so they are read together with this.
 * - Seam: mean luma step across the hole's edge relative to the truth's (> 1: an outline shows).
 * - Baselines a real fill must beat: the mean colour of the ring around the hole, and the membrane
 *   (diffusion) fill.
 */
import sharp, { type OverlayOptions } from 'sharp';
import { diffusionFill } from '#src/pipeline/inpaint.ts';
import { boxSum, createMask, imageFromBytes, imageToBytes, luma, summedArea, type Image, type Mask } from '#src/pipeline/image.ts';
import { fixture } from './fixtures.ts';

/** A standing-person silhouette, in fractions of the picture's height (so it scales with the photo). */
export interface Silhouette {
  /** Centre x, as a fraction of the width. */
  cx: number;
  /** Top of the head, as a fraction of the height. */
  top: number;
  /** Head-to-cut-off height, as a fraction of the height. */
  size: number;
}

export interface InpaintCase {
  name: string;
  fixture: string;
  person: Silhouette;
}

/**
 * Photos with nobody in them, each with a person placed across structure a fill must continue: the
 * tree line and meadow, the storefront's window frames, the waiting room's chairs and floor.
 */
export const INPAINT_CASES: InpaintCase[] = [
  { name: 'landscape', fixture: 'landscape_1.jpg', person: { cx: 0.42, top: 0.2, size: 0.85 } },
  { name: 'street', fixture: 'street_1.jpg', person: { cx: 0.55, top: 0.32, size: 0.66 } },
  { name: 'room', fixture: 'room_1.jpg', person: { cx: 0.4, top: 0.22, size: 0.85 } },
];

/**
 * Binary mask of a person: an ellipse head over a body that is a rounded rectangle, wider at the
 * shoulders than the neck, running to `top + size` (or the picture's bottom).
 */
export function personHole(width: number, height: number, person: Silhouette): Mask {
  const mask = createMask(width, height);
  const s = person.size * height;
  const cx = person.cx * width;
  const top = person.top * height;
  const headRx = 0.085 * s;
  const headRy = 0.115 * s;
  const headCy = top + headRy;
  const bodyTop = top + 2 * headRy - 0.02 * s;
  const bodyBottom = Math.min(height, top + s);
  const halfWidth = 0.21 * s;
  const corner = 0.1 * s;
  const neckHalf = 0.05 * s;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const hx = (x + 0.5 - cx) / headRx;
      const hy = (y + 0.5 - headCy) / headRy;
      let inside = hx * hx + hy * hy <= 1;
      const py = y + 0.5;
      if (!inside && py >= bodyTop - 0.05 * s && py < bodyTop && Math.abs(x + 0.5 - cx) <= neckHalf) inside = true;
      if (!inside && py >= bodyTop && py < bodyBottom) {
        const dx = Math.abs(x + 0.5 - cx) - (halfWidth - corner);
        const dy = bodyTop + corner - py;
        // Rounded top corners (shoulders); straight sides below.
        inside = dx <= 0 || (dx <= corner && (dy <= 0 || dx * dx + dy * dy <= corner * corner));
      }
      mask.data[y * width + x] = inside ? 1 : 0;
    }
  }
  return mask;
}

/** A case's photo (resized so its long side is `longSide`, if given) and its person-shaped hole. */
export async function loadCase(c: InpaintCase, longSide?: number): Promise<{ image: Image; mask: Mask }> {
  let pipeline = sharp(fixture(c.fixture)).removeAlpha();
  if (longSide) pipeline = pipeline.resize(longSide, longSide, { fit: 'inside', kernel: 'lanczos3' });
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  const image = imageFromBytes(data, info.width, info.height);
  return { image, mask: personHole(info.width, info.height, c.person) };
}

/** Share of the picture the hole covers (0..1). */
export function holeShare(mask: Mask): number {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i] > 0.5) n++;
  return n / mask.data.length;
}

/** PSNR (dB) of `a` against the truth `b` over the hole's pixels. */
export function holePsnr(a: Image, b: Image, mask: Mask): number {
  let sum = 0;
  let n = 0;
  for (let p = 0; p < mask.data.length; p++) {
    if (mask.data[p] <= 0.5) continue;
    for (let c = 0; c < 3; c++) {
      const e = clamp8(a.data[3 * p + c]) - clamp8(b.data[3 * p + c]);
      sum += e * e;
    }
    n += 3;
  }
  const mse = sum / Math.max(1, n);
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** Mean SSIM (luma, 7×7 uniform windows) over the windows centred on hole pixels. */
export function holeSsim(a: Image, b: Image, mask: Mask): number {
  const { width: w, height: h } = a;
  const x = luma(a);
  const y = luma(b);
  const xx = new Float32Array(x.length);
  const yy = new Float32Array(x.length);
  const xy = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    x[i] = clamp8(x[i]);
    y[i] = clamp8(y[i]);
    xx[i] = x[i] * x[i];
    yy[i] = y[i] * y[i];
    xy[i] = x[i] * y[i];
  }
  const [sx, sy, sxx, syy, sxy] = [x, y, xx, yy, xy].map((plane) => summedArea(plane, w, h));
  const r = 3;
  const n = (2 * r + 1) ** 2;
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  // Sample covariance (n − 1), as scikit-image does.
  const cov = n / (n - 1);
  let total = 0;
  let count = 0;
  for (let py = r; py < h - r; py++) {
    for (let px = r; px < w - r; px++) {
      if (mask.data[py * w + px] <= 0.5) continue;
      const box = (t: Float64Array) => boxSum(t, w, px - r, py - r, px + r + 1, py + r + 1) / n;
      const mx = box(sx);
      const my = box(sy);
      const vx = (box(sxx) - mx * mx) * cov;
      const vy = (box(syy) - my * my) * cov;
      const vxy = (box(sxy) - mx * my) * cov;
      total += ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
      count++;
    }
  }
  return count ? total / count : 1;
}

/** Mean |∂L/∂x| + |∂L/∂y| of `a` over pixel pairs inside the hole, divided by the same for the truth `b`. */
export function holeDetail(a: Image, b: Image, mask: Mask): number {
  const gradient = (image: Image) => {
    const l = luma(image);
    const w = image.width;
    let sum = 0;
    let n = 0;
    for (let p = 0; p < l.length; p++) {
      if (mask.data[p] <= 0.5) continue;
      if ((p + 1) % w !== 0 && mask.data[p + 1] > 0.5) {
        sum += Math.abs(l[p + 1] - l[p]);
        n++;
      }
      if (p + w < l.length && mask.data[p + w] > 0.5) {
        sum += Math.abs(l[p + w] - l[p]);
        n++;
      }
    }
    return sum / Math.max(1, n);
  };
  return gradient(a) / Math.max(1e-6, gradient(b));
}

/** Mean |luma step| of `a` between hole pixels and their known 4-neighbours, divided by the same for the truth `b`. */
export function seamStep(a: Image, b: Image, mask: Mask): number {
  const step = (image: Image) => {
    const l = luma(image);
    const w = image.width;
    let sum = 0;
    let n = 0;
    for (let p = 0; p < l.length; p++) {
      if (mask.data[p] <= 0.5) continue;
      const x = p % w;
      for (const q of [x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, p - w, p + w]) {
        if (q < 0 || q >= l.length || mask.data[q] > 0.5) continue;
        sum += Math.abs(l[p] - l[q]);
        n++;
      }
    }
    return sum / Math.max(1, n);
  };
  return step(a) / Math.max(1e-6, step(b));
}

/** Baseline: every hole pixel gets the mean colour of the known pixels bordering the hole. */
export function ringMeanFill(image: Image, mask: Mask): Image {
  const { width: w, height: h } = image;
  const hole = (p: number) => mask.data[p] > 0.5;
  const sum = [0, 0, 0];
  let n = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      if (hole(p)) continue;
      const touches = (x > 0 && hole(p - 1)) || (x < w - 1 && hole(p + 1)) || (y > 0 && hole(p - w)) || (y < h - 1 && hole(p + w));
      if (!touches) continue;
      for (let c = 0; c < 3; c++) sum[c] += image.data[3 * p + c];
      n++;
    }
  }
  const data = image.data.slice();
  for (let p = 0; p < mask.data.length; p++) if (hole(p)) for (let c = 0; c < 3; c++) data[3 * p + c] = sum[c] / Math.max(1, n);
  return { width: w, height: h, data };
}

/** Baseline: the membrane (diffusion) fill of the whole hole. */
export function diffusionBaseline(image: Image, mask: Mask): Image {
  const data = image.data.slice();
  const hole = new Uint8Array(mask.data.length);
  for (let i = 0; i < hole.length; i++) hole[i] = mask.data[i] > 0.5 ? 1 : 0;
  diffusionFill(data, image.width, image.height, hole);
  return { width: image.width, height: image.height, data };
}

/** The input with the hole painted magenta, as a person would see what is to be removed. */
export function paintHole(image: Image, mask: Mask): Image {
  const data = image.data.slice();
  for (let p = 0; p < mask.data.length; p++) {
    if (mask.data[p] <= 0.5) continue;
    data[3 * p] = 255;
    data[3 * p + 1] = 0;
    data[3 * p + 2] = 255;
  }
  return { width: image.width, height: image.height, data };
}

/** Rows of same-height images side by side, rows stacked, as one PNG (for looking at, not for tests). */
export async function contactSheet(rows: Image[][], gap = 6): Promise<Buffer> {
  const rowHeight = (row: Image[]) => Math.max(...row.map((i) => i.height));
  const rowWidth = (row: Image[]) => row.reduce((s, i) => s + i.width, 0) + gap * (row.length - 1);
  const width = Math.max(...rows.map(rowWidth));
  const height = rows.reduce((s, r) => s + rowHeight(r), 0) + gap * (rows.length - 1);
  const composites: OverlayOptions[] = [];
  let top = 0;
  for (const row of rows) {
    let left = 0;
    for (const image of row) {
      composites.push({ input: imageToBytes(image), raw: { width: image.width, height: image.height, channels: 3 }, left, top });
      left += image.width + gap;
    }
    top += rowHeight(row) + gap;
  }
  return sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } }).composite(composites).png().toBuffer();
}

function clamp8(v: number): number {
  return v >= 255 ? 255 : v > 0 ? Math.round(v) : 0;
}

