/**
 * Upscale stage (opt-in): Real-ESRGAN animevideov3 ×4, made for anime line art, in overlapping
 * tiles (its cost and memory grow with the square of the tile) stitched with feathered seams.
 */
import { throwIfCancelled } from '../errors.ts';
import type { ModelRuntime } from '../models/runtime.ts';
import { resizeImage, type Image } from './image.ts';
import { runTiled } from './tiling.ts';

export const UPSCALER_FACTOR = 4;

export interface UpscaleOptions {
  /** Tile side in input pixels. */
  tile?: number;
  overlap?: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

/** Returns the image ×4 in each dimension. */
export async function upscaleImage(runtime: ModelRuntime, image: Image, options: UpscaleOptions = {}): Promise<Image> {
  const tile = options.tile ?? 192;
  return runTiled(
    image,
    {
      tileWidth: tile,
      tileHeight: tile,
      overlap: options.overlap ?? 16,
      scale: UPSCALER_FACTOR,
      signal: options.signal,
      onTile: (done, total) => options.onProgress?.(done / total),
    },
    async (part) => {
      throwIfCancelled(options.signal);
      return runUpscaler(runtime, part);
    },
  );
}

/**
 * Runs Real-ESRGAN on the stylized picture reduced to a quarter of the target (never enlarged
 * beyond the working size), so ×2 costs a quarter of ×4; the ×4 result is then fitted to the target.
 */
export async function upscaleToTarget(
  runtime: ModelRuntime,
  image: Image,
  target: { width: number; height: number },
  options: Pick<UpscaleOptions, 'signal' | 'onProgress'> = {},
): Promise<Image> {
  const k = Math.min(1, target.width / UPSCALER_FACTOR / image.width, target.height / UPSCALER_FACTOR / image.height);
  const source = k < 1 ? resizeImage(image, Math.max(8, Math.round(image.width * k)), Math.max(8, Math.round(image.height * k))) : image;
  return upscaleImage(runtime, source, options);
}

async function runUpscaler(runtime: ModelRuntime, image: Image): Promise<Image> {
  const { width, height } = image;
  const plane = width * height;
  const input = new Float32Array(plane * 3);
  const src = image.data;
  for (let p = 0, i = 0; p < plane; p++, i += 3) {
    input[p] = src[i] / 255;
    input[plane + p] = src[i + 1] / 255;
    input[2 * plane + p] = src[i + 2] / 255;
  }
  const out = await runtime.run('realesr_anime', input, [1, 3, height, width]);
  const ow = width * UPSCALER_FACTOR;
  const oh = height * UPSCALER_FACTOR;
  const oplane = ow * oh;
  const data = new Float32Array(oplane * 3);
  const o = out.data;
  for (let p = 0, i = 0; p < oplane; p++, i += 3) {
    data[i] = clampByte(o[p] * 255);
    data[i + 1] = clampByte(o[oplane + p] * 255);
    data[i + 2] = clampByte(o[2 * oplane + p] * 255);
  }
  return { width: ow, height: oh, data };
}

function clampByte(v: number): number {
  return v > 0 ? (v < 255 ? v : 255) : 0;
}
