/**
 * Decode stage: untrusted bytes → an upright sRGB image at working resolution (plus the full-size
 * original, kept as 8-bit, for modes that keep real pixels and for the final resize).
 *
 * sharp does the work: EXIF auto-rotation, grayscale/CMYK/16-bit to 8-bit sRGB, alpha split off (kept
 * for stickers), `limitInputPixels` against decompression bombs, and `failOn: 'warning'` so a
 * truncated file is an error rather than a half-grey picture.
 */
import sharp from 'sharp';
import type { Metadata, OutputInfo, SharpOptions } from 'sharp';
import { AnimefyError, formatBytes } from '../errors.ts';
import { imageFromBytes, type Image } from './image.ts';

export interface DecodeLimits {
  maxInputBytes: number;
  maxInputPixels: number;
  /** Long side of the working image. */
  workingSize: number;
  /** Smallest accepted side in pixels. */
  minSide?: number;
}

export interface Decoded {
  /** Upright RGB at working resolution (long side ≤ workingSize). */
  image: Image;
  /** Upright 8-bit RGB (and alpha, when the input had one) at the input's full size. */
  original: { width: number; height: number; rgb: Buffer; alpha?: Buffer };
  /** sharp's name for the input format (jpeg, png, webp, gif, heif, tiff, …). */
  format: string;
}

export const MIN_SIDE = 16;

export async function decodeImage(bytes: Uint8Array, limits: DecodeLimits): Promise<Decoded> {
  if (bytes.length === 0) throw new AnimefyError('EMPTY_INPUT');
  if (bytes.length > limits.maxInputBytes) {
    throw new AnimefyError('INPUT_TOO_LARGE', { limit: formatBytes(limits.maxInputBytes) });
  }
  const options: SharpOptions = { limitInputPixels: limits.maxInputPixels, failOn: 'warning' };

  let meta: Metadata;
  try {
    // Header only (no pixels decoded), so the size can be judged and reported before any limit trips.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new AnimefyError('NOT_AN_IMAGE', {}, { cause: err });
  }
  if (!meta.width || !meta.height) throw new AnimefyError('NOT_AN_IMAGE');
  const pixels = meta.width * meta.height;
  if (pixels > limits.maxInputPixels) {
    throw new AnimefyError('INPUT_TOO_MANY_PIXELS', {
      pixels: Math.round(pixels / 1e5) / 10,
      limit: Math.round(limits.maxInputPixels / 1e5) / 10,
    });
  }
  const minSide = limits.minSide ?? MIN_SIDE;
  if (meta.width < minSide || meta.height < minSide) {
    throw new AnimefyError('INPUT_TOO_SMALL', { limit: minSide });
  }

  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await sharp(bytes, options)
      .autoOrient()
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw classifyDecodeError(err);
  }
  const { width, height, channels } = raw.info;
  if (channels !== 4) throw new AnimefyError('NOT_AN_IMAGE');

  const rgb = Buffer.allocUnsafe(width * height * 3);
  const alphaBytes = meta.hasAlpha ? Buffer.allocUnsafe(width * height) : undefined;
  const src = raw.data;
  for (let p = 0, i = 0, o = 0; p < width * height; p++, i += 4, o += 3) {
    rgb[o] = src[i];
    rgb[o + 1] = src[i + 1];
    rgb[o + 2] = src[i + 2];
    if (alphaBytes) alphaBytes[p] = src[i + 3];
  }

  const { width: w, height: h } = workingDimensions(width, height, limits.workingSize);
  const workingRgb = w !== width || h !== height ? await resizeBytes(rgb, width, height, 3, w, h) : rgb;
  return {
    image: imageFromBytes(workingRgb, w, h),
    original: { width, height, rgb, alpha: alphaBytes },
    format: meta.format ?? 'unknown',
  };
}

/** The size an image is worked on: long side at most `workingSize`, aspect kept, at least 1 px. */
export function workingDimensions(width: number, height: number, workingSize: number): { width: number; height: number } {
  const scale = Math.min(1, workingSize / Math.max(width, height));
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
  };
}

/** High-quality (lanczos3) resize of raw 8-bit pixels through libvips. */
export async function resizeBytes(
  data: Buffer,
  width: number,
  height: number,
  channels: 1 | 3 | 4,
  outWidth: number,
  outHeight: number,
): Promise<Buffer> {
  return sharp(data, { raw: { width, height, channels } })
    .resize(outWidth, outHeight, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
}

function classifyDecodeError(err: unknown): AnimefyError {
  const message = String((err as Error)?.message ?? '');
  if (/unsupported image format|bad seek|not a known file format/i.test(message)) {
    return new AnimefyError('NOT_AN_IMAGE', {}, { cause: err });
  }
  // Premature end of JPEG, truncated PNG, bad Huffman table, …
  return new AnimefyError('CORRUPT_IMAGE', {}, { cause: err });
}
