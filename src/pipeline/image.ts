/**
 * The pixel containers every stage passes around, and the small operations on them that more than
 * one stage needs.
 *
 * - `Image`: interleaved RGB, Float32 in [0, 255] (float so blending, Poisson and grading lose nothing
 *   between stages; converted to 8 bit only at decode and encode).
 * - `Mask`: one Float32 channel in [0, 1].
 */
import sharp from 'sharp';

export interface Image {
  readonly width: number;
  readonly height: number;
  /** RGBRGB…, row-major, values in [0, 255]. */
  readonly data: Float32Array;
}

export interface Mask {
  readonly width: number;
  readonly height: number;
  /** One value per pixel in [0, 1]. */
  readonly data: Float32Array;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function createImage(width: number, height: number, data?: Float32Array): Image {
  const size = width * height * 3;
  if (data && data.length !== size) {
    throw new RangeError(`Expected ${size} values for a ${width}x${height} RGB image but received ${data.length}`);
  }
  return { width, height, data: data ?? new Float32Array(size) };
}

export function createMask(width: number, height: number, fill = 0): Mask {
  const data = new Float32Array(width * height);
  if (fill !== 0) data.fill(fill);
  return { width, height, data };
}

export function imageFromBytes(bytes: Uint8Array, width: number, height: number): Image {
  const data = new Float32Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = bytes[i];
  return { width, height, data };
}

/** Rounds and clamps to 8-bit RGB. */
export function imageToBytes(image: Image): Buffer {
  const out = Buffer.allocUnsafe(image.data.length);
  const src = image.data;
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    // NaN compares false everywhere and lands on 0.
    out[i] = v >= 255 ? 255 : v > 0 ? (v + 0.5) | 0 : 0;
  }
  return out;
}

export function clampRect(rect: Rect, width: number, height: number): Rect {
  const x0 = Math.max(0, Math.floor(rect.x));
  const y0 = Math.max(0, Math.floor(rect.y));
  const x1 = Math.min(width, Math.ceil(rect.x + rect.width));
  const y1 = Math.min(height, Math.ceil(rect.y + rect.height));
  return { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
}

export function cropImage(image: Image, rect: Rect): Image {
  const { x, y, width, height } = rect;
  const out = new Float32Array(width * height * 3);
  for (let row = 0; row < height; row++) {
    const start = ((y + row) * image.width + x) * 3;
    out.set(image.data.subarray(start, start + width * 3), row * width * 3);
  }
  return { width, height, data: out };
}

export function cropMask(mask: Mask, rect: Rect): Mask {
  const { x, y, width, height } = rect;
  const out = new Float32Array(width * height);
  for (let row = 0; row < height; row++) {
    const start = (y + row) * mask.width + x;
    out.set(mask.data.subarray(start, start + width), row * width);
  }
  return { width, height, data: out };
}

/** Writes `patch` into `image` at (x, y), in place. */
export function pasteImage(image: Image, patch: Image, x: number, y: number): void {
  for (let row = 0; row < patch.height; row++) {
    const dst = ((y + row) * image.width + x) * 3;
    image.data.set(patch.data.subarray(row * patch.width * 3, (row + 1) * patch.width * 3), dst);
  }
}

/** out = a * (1 - m) + b * m, per pixel; all three the same size. */
export function blendImages(a: Image, b: Image, mask: Mask): Image {
  assertSameSize(a, b);
  assertSameSize(a, mask);
  const out = new Float32Array(a.data.length);
  const m = mask.data;
  for (let p = 0, i = 0; p < m.length; p++, i += 3) {
    const t = m[p];
    out[i] = a.data[i] + (b.data[i] - a.data[i]) * t;
    out[i + 1] = a.data[i + 1] + (b.data[i + 1] - a.data[i + 1]) * t;
    out[i + 2] = a.data[i + 2] + (b.data[i + 2] - a.data[i + 2]) * t;
  }
  return { width: a.width, height: a.height, data: out };
}

export function assertSameSize(a: { width: number; height: number }, b: { width: number; height: number }): void {
  if (a.width !== b.width || a.height !== b.height) {
    throw new RangeError(`Expected matching sizes but received ${a.width}x${a.height} and ${b.width}x${b.height}`);
  }
}

/**
 * Bilinear resize of any number of interleaved float channels. Downscaling by more than 2x first
 * averages boxes so the result does not alias.
 */
export function resizeChannels(
  src: Float32Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
): Float32Array {
  if (width === outWidth && height === outHeight) return src.slice();
  const factor = Math.min(Math.floor(width / outWidth), Math.floor(height / outHeight));
  if (factor >= 2) {
    const reduced = boxDownsample(src, width, height, channels, factor);
    return resizeChannels(
      reduced.data,
      reduced.width,
      reduced.height,
      channels,
      outWidth,
      outHeight,
    );
  }
  const out = new Float32Array(outWidth * outHeight * channels);
  const sy = height / outHeight;
  const { i0: x0s, i1: x1s, frac: fxs } = bilinearAxis(width, outWidth, channels);
  for (let y = 0; y < outHeight; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, height - 1);
    const wy = fy - y0;
    const r0 = y0 * width * channels;
    const r1 = y1 * width * channels;
    let o = y * outWidth * channels;
    for (let x = 0; x < outWidth; x++) {
      const wx = fxs[x];
      const a = r0 + x0s[x];
      const b = r0 + x1s[x];
      const c = r1 + x0s[x];
      const d = r1 + x1s[x];
      for (let k = 0; k < channels; k++) {
        const top = src[a + k] + (src[b + k] - src[a + k]) * wx;
        const bottom = src[c + k] + (src[d + k] - src[c + k]) * wx;
        out[o++] = top + (bottom - top) * wy;
      }
    }
  }
  return out;
}

/**
 * Bilinear sampling table for one axis: for each of `outLength` output positions (pixel centres
 * aligned), the two neighbouring input indices times `stride` and the weight of the second.
 */
export function bilinearAxis(
  inLength: number,
  outLength: number,
  stride: number,
): { i0: Int32Array; i1: Int32Array; frac: Float32Array } {
  const scale = inLength / outLength;
  const i0 = new Int32Array(outLength);
  const i1 = new Int32Array(outLength);
  const frac = new Float32Array(outLength);
  for (let x = 0; x < outLength; x++) {
    const f = Math.min(Math.max((x + 0.5) * scale - 0.5, 0), inLength - 1);
    const lo = Math.floor(f);
    i0[x] = lo * stride;
    i1[x] = Math.min(lo + 1, inLength - 1) * stride;
    frac[x] = f - lo;
  }
  return { i0, i1, frac };
}

function boxDownsample(
  src: Float32Array,
  width: number,
  height: number,
  channels: number,
  factor: number,
): { data: Float32Array; width: number; height: number } {
  const w = Math.floor(width / factor);
  const h = Math.floor(height / factor);
  const out = new Float32Array(w * h * channels);
  const norm = 1 / (factor * factor);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * channels;
      for (let dy = 0; dy < factor; dy++) {
        let i = ((y * factor + dy) * width + x * factor) * channels;
        for (let dx = 0; dx < factor; dx++) {
          for (let k = 0; k < channels; k++) out[o + k] += src[i + k];
          i += channels;
        }
      }
      for (let k = 0; k < channels; k++) out[o + k] *= norm;
    }
  }
  return { data: out, width: w, height: h };
}

export function resizeImage(image: Image, width: number, height: number): Image {
  return { width, height, data: resizeChannels(image.data, image.width, image.height, 3, width, height) };
}

/**
 * Lanczos-3 resize through libvips (sharper than bilinear for line art). Goes through 8 bits: sharp
 * cannot read float pixels from memory.
 */
export async function resizeImageLanczos(image: Image, width: number, height: number): Promise<Image> {
  if (image.width === width && image.height === height) return image;
  const resized = await sharp(imageToBytes(image), { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  return imageFromBytes(resized, width, height);
}

export function resizeMask(mask: Mask, width: number, height: number): Mask {
  return { width, height, data: resizeChannels(mask.data, mask.width, mask.height, 1, width, height) };
}

/** Mirror index into [0, n): …2 1 0 | 0 1 2 … n-1 | n-1 n-2… (works for any distance). */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n;
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

/** Pads right and bottom by mirroring so the result is `width`x`height` (both ≥ the image's). */
export function reflectPad(image: Image, width: number, height: number): Image {
  if (width === image.width && height === image.height) return image;
  const out = new Float32Array(width * height * 3);
  const src = image.data;
  for (let y = 0; y < height; y++) {
    const sy = reflectIndex(y, image.height);
    const srcRow = sy * image.width * 3;
    const dstRow = y * width * 3;
    out.set(src.subarray(srcRow, srcRow + image.width * 3), dstRow);
    for (let x = image.width; x < width; x++) {
      const s = srcRow + reflectIndex(x, image.width) * 3;
      const d = dstRow + x * 3;
      out[d] = src[s];
      out[d + 1] = src[s + 1];
      out[d + 2] = src[s + 2];
    }
  }
  return { width, height, data: out };
}

/** The top-left `width`x`height` of an image (undoes reflectPad). */
export function unpad(image: Image, width: number, height: number): Image {
  if (width === image.width && height === image.height) return image;
  return cropImage(image, { x: 0, y: 0, width, height });
}

export function roundUpTo(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/** Luma (BT.601) of an RGB image as a mask-shaped float plane in [0, 255]. */
export function luma(image: Image): Float32Array {
  const n = image.width * image.height;
  const out = new Float32Array(n);
  const d = image.data;
  for (let p = 0, i = 0; p < n; p++, i += 3) out[p] = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
  return out;
}

/** The bounding box of the pixels (row-major indices) where `inside` holds, or undefined when none does. */
export function boundsWhere(width: number, height: number, inside: (p: number) => boolean): Rect | undefined {
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (!inside(row + x)) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      y1 = y;
    }
  }
  return x1 < 0 ? undefined : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/** A summed-area table of a `w`×`h` plane: any box sum in four lookups (`boxSum`). */
export function summedArea(plane: ArrayLike<number>, w: number, h: number): Float64Array {
  const sat = new Float64Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += plane[y * w + x];
      sat[(y + 1) * (w + 1) + x + 1] = sat[y * (w + 1) + x + 1] + row;
    }
  }
  return sat;
}

/** Sum over [x0, x1) × [y0, y1) from a summed-area table of a `w`-wide plane. */
export function boxSum(sat: Float64Array, w: number, x0: number, y0: number, x1: number, y1: number): number {
  const W = w + 1;
  return sat[y1 * W + x1] - sat[y0 * W + x1] - sat[y1 * W + x0] + sat[y0 * W + x0];
}
