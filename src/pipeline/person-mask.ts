/**
 * Person mask stage: where the people are, as a soft mask with feathered edges that follow the photo.
 *
 * - `fast` (default): MediaPipe selfie segmentation (256², or 144x256 for wide pictures), a few ms.
 * - `high`: ISNet (IMG.LY small, 1024²), seconds, with much crisper hair and outlines.
 *
 * The raw probability map is upsampled, snapped to the photo's edges with a guided filter, given a
 * gentle contrast curve (MediaPipe's maps are soft) and feathered by a small blur.
 */
import type { ModelRuntime } from '../models/runtime.ts';
import { gaussianBlur, guidedFilter } from './filters.ts';
import { luma, resizeImage, resizeMask, type Image, type Mask } from './image.ts';
import type { Quality } from './modes.ts';

export async function segmentPerson(runtime: ModelRuntime, image: Image, quality: Quality = 'fast'): Promise<Mask> {
  const raw = quality === 'high' ? await runIsnet(runtime, image) : await runSelfie(runtime, image);
  return refineMask(resizeMask(raw, image.width, image.height), image);
}

async function runSelfie(runtime: ModelRuntime, image: Image): Promise<Mask> {
  const wide = image.width / image.height > 1.4;
  const id = wide ? 'selfie_landscape' : 'selfie';
  const [w, h] = wide ? [256, 144] : [256, 256];
  const small = resizeImage(image, w, h);
  const input = new Float32Array(small.data.length);
  for (let i = 0; i < input.length; i++) input[i] = small.data[i] / 255;
  const out = await runtime.run(id, input, [1, h, w, 3]);
  return { width: w, height: h, data: clampUnit(out.data) };
}

async function runIsnet(runtime: ModelRuntime, image: Image): Promise<Mask> {
  const size = 1024;
  const small = resizeImage(image, size, size);
  const plane = size * size;
  const input = new Float32Array(plane * 3);
  const src = small.data;
  for (let p = 0, i = 0; p < plane; p++, i += 3) {
    input[p] = (src[i] - 128) / 256;
    input[plane + p] = (src[i + 1] - 128) / 256;
    input[2 * plane + p] = (src[i + 2] - 128) / 256;
  }
  const out = await runtime.run('isnet', input, [1, 3, size, size]);
  return { width: size, height: size, data: clampUnit(out.data) };
}

/** Edge-snapping, contrast and feathering of a probability map already at the image's size. */
export function refineMask(mask: Mask, image: Image): Mask {
  const { width, height } = image;
  const longSide = Math.max(width, height);
  const guide = luma(image);
  for (let i = 0; i < guide.length; i++) guide[i] /= 255;
  const radius = Math.max(2, Math.round(longSide / 200));
  const snapped = guidedFilter(guide, mask.data, width, height, radius, 1e-3);
  for (let i = 0; i < snapped.length; i++) snapped[i] = smoothstep(0.2, 0.8, snapped[i]);
  const feathered = gaussianBlur(snapped, width, height, Math.max(0.8, longSide / 900));
  return { width, height, data: clampUnit(feathered) };
}

/** Share of the picture covered by the mask (0..1). */
export function maskCoverage(mask: Mask): number {
  let sum = 0;
  for (let i = 0; i < mask.data.length; i++) sum += mask.data[i];
  return sum / mask.data.length;
}

function smoothstep(e0: number, e1: number, x: number): number {
  const t = x <= e0 ? 0 : x >= e1 ? 1 : (x - e0) / (e1 - e0);
  return t * t * (3 - 2 * t);
}

function clampUnit(data: Float32Array): Float32Array {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    data[i] = v > 0 ? (v < 1 ? v : 1) : 0; // NaN → 0
  }
  return data;
}
