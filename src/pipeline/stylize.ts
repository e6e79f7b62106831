/**
 * Stylize stage: one runner for every AnimeGAN-type generator (AnimeGANv3 scene and face models,
 * White-box, PortraitSketch, and any trained generator a user drops into `models/`).
 *
 * I/O contract (from the manifest): NHWC RGB in [-1, 1]; float16 or float32 (the runtime converts).
 * Sides are reflect-padded to the model's multiple (8 for AnimeGANv3) and unpadded afterwards; a
 * fixed-size model (White-box 512) always gets tiles of exactly its size; images above the
 * comfortable size go in overlapping tiles with feathered seams.
 */
import { throwIfCancelled } from '../errors.ts';
import type { ModelRuntime } from '../models/runtime.ts';
import { reflectPad, resizeImage, roundUpTo, unpad, type Image } from './image.ts';
import { runTiled } from './tiling.ts';

export interface StylizeOptions {
  /** Images up to this many pixels run in one piece. */
  tilePixels: number;
  /** Pixels shared by neighbouring tiles. */
  overlap?: number;
  /** Below this short side the image is enlarged first (generators were trained on ≥256 px). */
  minSide?: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

export async function stylizeImage(
  runtime: ModelRuntime,
  modelId: string,
  image: Image,
  options: StylizeOptions,
): Promise<Image> {
  const minSide = options.minSide ?? 256;
  const shortSide = Math.min(image.width, image.height);
  if (shortSide < minSide) {
    const k = minSide / shortSide;
    const enlarged = resizeImage(image, Math.round(image.width * k), Math.round(image.height * k));
    const styled = await stylizeImage(runtime, modelId, enlarged, { ...options, minSide: 0 });
    return resizeImage(styled, image.width, image.height);
  }

  const entry = runtime.entry(modelId);
  const multiple = entry.multipleOf;
  const run = (tile: Image) => runGenerator(runtime, modelId, tile, multiple, entry.fixedSize);

  let tileWidth: number;
  let tileHeight: number;
  if (entry.fixedSize) {
    tileWidth = tileHeight = entry.fixedSize;
  } else if (image.width * image.height <= options.tilePixels) {
    tileWidth = image.width;
    tileHeight = image.height;
  } else {
    const side = Math.max(256, roundUpTo(Math.floor(Math.sqrt(options.tilePixels)), multiple));
    tileWidth = tileHeight = side;
  }
  const overlap = options.overlap ?? (entry.fixedSize ? fixedTileOverlap(entry.fixedSize) : 64);
  return runTiled(
    image,
    {
      tileWidth,
      tileHeight,
      overlap,
      signal: options.signal,
      onTile: (done, total) => options.onProgress?.(done / total),
    },
    async (tile) => {
      throwIfCancelled(options.signal);
      return run(tile);
    },
  );
}

/** Overlap between tiles of a fixed-size model. */
export function fixedTileOverlap(fixedSize: number): number {
  return Math.round(fixedSize / 8);
}

/**
 * Scale (≤ 1) that fits a picture into the fewest tiles of a fixed-size model: one tile for ordinary
 * aspect ratios, up to three along the long side of a panorama. Used by `fast` quality so White-box
 * runs once on a typical photo instead of on four mostly-overlapping tiles.
 */
export function fitToFixedTiles(width: number, height: number, fixedSize: number): number {
  const long = Math.max(width, height);
  const short = Math.min(width, height);
  const aspect = long / short;
  const tiles = aspect <= 1.5 ? 1 : Math.min(3, Math.ceil(aspect - 0.25));
  const capacity = tiles * fixedSize - (tiles - 1) * fixedTileOverlap(fixedSize);
  return Math.min(1, capacity / long, fixedSize / short);
}

/** One forward pass on an image, padded to the model's size rules and cropped back. */
export async function runGenerator(
  runtime: ModelRuntime,
  modelId: string,
  image: Image,
  multiple: number,
  fixedSize?: number,
): Promise<Image> {
  const padW = fixedSize ?? roundUpTo(image.width, multiple);
  const padH = fixedSize ?? roundUpTo(image.height, multiple);
  const padded = reflectPad(image, padW, padH);
  const input = new Float32Array(padded.data.length);
  const src = padded.data;
  for (let i = 0; i < input.length; i++) input[i] = src[i] / 127.5 - 1;
  const out = await runtime.run(modelId, input, [1, padH, padW, 3]);
  const data = out.data;
  for (let i = 0; i < data.length; i++) {
    const v = (data[i] + 1) * 127.5;
    data[i] = v > 0 ? (v < 255 ? v : 255) : 0; // clamps overshoot (White-box reaches ±1.5) and NaN
  }
  return unpad({ width: padW, height: padH, data }, image.width, image.height);
}
