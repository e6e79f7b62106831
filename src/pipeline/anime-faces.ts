/**
 * Anime and drawn faces: FaceBoxes trained on anime faces (`anime_faceboxes`, WynMew/AnimeFaceBoxes).
 *
 * Input NCHW **BGR** minus (104, 117, 123), any size (padded here to a multiple of 32). Outputs `loc`
 * [1,P,4] and `conf` [1,P,2] (softmaxed; column 1 = face) over the FaceBoxes priors (`faceBoxesPriors`):
 * steps 32/64/128, anchor sizes [32, 64, 128] / [256] / [512] px; the 32-px anchors are densified 4×4 in
 * each cell, the 64-px ones 2×2, the rest sit at the cell centre. Decode with variances 0.1/0.2, then
 * greedy NMS at IoU 0.3. The boxes reach well above the face into the hair; like the upstream sample
 * code, the top 20 % of each box is cut off (`FACEBOXES_TOP_TRIM`).
 *
 * It also fires on real faces: callers that run YuNet as well treat an overlapping box as real.
 */
import type { ModelRuntime } from '../models/runtime.ts';
import { intersectionOverUnion } from './faces.ts';
import { resizeImage, roundUpTo, type Image, type Rect } from './image.ts';

export interface AnimeFace {
  /** Box in image pixels (top trimmed, see FACEBOXES_TOP_TRIM). */
  box: Rect;
  score: number;
}

export interface AnimeDetectOptions {
  /** Minimum face probability (default 0.5). */
  threshold?: number;
  nmsIou?: number;
  /** Detection runs with the long side at most this (default 640). */
  maxSide?: number;
  /** Pictures are enlarged to at least this long side first, so small drawings still show faces ≥ 32 px (default 320). */
  minSide?: number;
}

export const FACEBOXES_STEPS = [32, 64, 128] as const;
export const FACEBOXES_MIN_SIZES: readonly (readonly number[])[] = [[32, 64, 128], [256], [512]];
const VARIANCE = [0.1, 0.2] as const;
const MEAN_BGR = [104, 117, 123] as const;
/** Fraction of the raw box height cut from its top (the upstream sample code does the same). */
export const FACEBOXES_TOP_TRIM = 0.2;

/**
 * FaceBoxes priors for an input of `width` x `height`, as [cx, cy, w, h] in pixels, in the network's
 * output order: per level, per cell (row-major), per anchor size, dense offsets row by row.
 */
export function faceBoxesPriors(width: number, height: number): Float32Array {
  const out: number[] = [];
  FACEBOXES_STEPS.forEach((step, level) => {
    const rows = Math.ceil(height / step);
    const cols = Math.ceil(width / step);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        for (const size of FACEBOXES_MIN_SIZES[level]) {
          const n = size === 32 ? 4 : size === 64 ? 2 : 1;
          const offsets = n === 1 ? [0.5] : Array.from({ length: n }, (_, k) => k / n);
          for (const oy of offsets) for (const ox of offsets) out.push((j + ox) * step, (i + oy) * step, size, size);
        }
      }
    }
  });
  return Float32Array.from(out);
}

/** Decodes `loc` and `conf` over `priors` (pixels) into boxes scoring at least `threshold` (no NMS). */
export function decodeFaceBoxes(loc: Float32Array, conf: Float32Array, priors: Float32Array, threshold: number): AnimeFace[] {
  const count = priors.length / 4;
  if (loc.length !== count * 4 || conf.length !== count * 2) {
    throw new RangeError(`FaceBoxes outputs do not match the priors (${loc.length / 4} boxes, ${count} priors)`);
  }
  const faces: AnimeFace[] = [];
  for (let p = 0; p < count; p++) {
    const score = conf[2 * p + 1];
    if (!(score >= threshold)) continue;
    const pw = priors[4 * p + 2];
    const ph = priors[4 * p + 3];
    const cx = priors[4 * p] + loc[4 * p] * VARIANCE[0] * pw;
    const cy = priors[4 * p + 1] + loc[4 * p + 1] * VARIANCE[0] * ph;
    const w = pw * Math.exp(loc[4 * p + 2] * VARIANCE[1]);
    const h = ph * Math.exp(loc[4 * p + 3] * VARIANCE[1]);
    faces.push({ box: { x: cx - w / 2, y: cy - h / 2, width: w, height: h }, score });
  }
  return faces;
}

/** Greedy NMS: keeps the best box of every group overlapping by more than `iou`. */
export function nmsBoxes<T extends { box: Rect; score: number }>(items: readonly T[], iou: number): T[] {
  const sorted = [...items].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const item of sorted) if (kept.every((k) => intersectionOverUnion(k.box, item.box) <= iou)) kept.push(item);
  return kept;
}

/** RGB interleaved → BGR planar minus the FaceBoxes mean, zero (the mean colour) beyond the picture. */
export function toFaceBoxesInput(image: Image, padW: number, padH: number): Float32Array {
  const plane = padW * padH;
  const out = new Float32Array(plane * 3);
  const src = image.data;
  for (let y = 0; y < image.height; y++) {
    let i = y * image.width * 3;
    let o = y * padW;
    for (let x = 0; x < image.width; x++, i += 3, o++) {
      out[o] = src[i + 2] - MEAN_BGR[0];
      out[plane + o] = src[i + 1] - MEAN_BGR[1];
      out[2 * plane + o] = src[i] - MEAN_BGR[2];
    }
  }
  return out;
}

/** Anime faces in `image`, boxes in its pixels, best first. */
export async function detectAnimeFaces(runtime: ModelRuntime, image: Image, options: AnimeDetectOptions = {}): Promise<AnimeFace[]> {
  const threshold = options.threshold ?? 0.5;
  const long = Math.max(image.width, image.height);
  const scale = Math.min((options.maxSide ?? 640) / long, Math.max(1, (options.minSide ?? 320) / long));
  const input =
    scale === 1 ? image : resizeImage(image, Math.max(1, Math.round(image.width * scale)), Math.max(1, Math.round(image.height * scale)));
  const padW = roundUpTo(input.width, 32);
  const padH = roundUpTo(input.height, 32);
  const outputs = await runtime.runOutputs('anime_faceboxes', toFaceBoxesInput(input, padW, padH), [1, 3, padH, padW], ['loc', 'conf']);
  const raw = decodeFaceBoxes(outputs.loc.data, outputs.conf.data, faceBoxesPriors(padW, padH), threshold);
  const kx = image.width / input.width;
  const ky = image.height / input.height;
  return nmsBoxes(raw, options.nmsIou ?? 0.3).map(({ box, score }) => {
    const trim = box.height * FACEBOXES_TOP_TRIM;
    return { score, box: { x: box.x * kx, y: (box.y + trim) * ky, width: box.width * kx, height: (box.height - trim) * ky } };
  });
}
