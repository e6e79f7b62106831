/**
 * Faces stage: YuNet finds every face with five landmarks.
 *
 * YuNet takes NCHW **BGR** in raw 0..255 with H and W padded to multiples of 32, and answers with
 * classification, objectness, box and landmark heads at strides 8, 16 and 32. Decoding and NMS are
 * ours (`decodeYunet`, `nonMaxSuppression`), pure functions tested on their own.
 */
import type { ModelRuntime } from '../models/runtime.ts';
import { resizeImage, roundUpTo, type Image, type Rect } from './image.ts';

export type Point = readonly [number, number];

export interface Face {
  /** Box in image pixels (not clipped: a face at the edge may reach outside). */
  box: Rect;
  score: number;
  /**
   * Five points in image pixels, OpenCV FaceDetectorYN order: right eye, left eye (the person's; so
   * image-left then image-right on a frontal face), nose tip, right mouth corner, left mouth corner.
   */
  landmarks: [Point, Point, Point, Point, Point];
}

export interface DetectOptions {
  /** Minimum score (sqrt(cls·obj)). */
  threshold?: number;
  /** IoU above which the weaker of two boxes is dropped. */
  nmsIou?: number;
  /** Detection runs with the long side at most this (faces are found on a downscaled copy). */
  maxSide?: number;
}

export const YUNET_STRIDES = [8, 16, 32] as const;
export const YUNET_OUTPUTS = YUNET_STRIDES.flatMap((s) => [`cls_${s}`, `obj_${s}`, `bbox_${s}`, `kps_${s}`]);

export async function detectFaces(runtime: ModelRuntime, image: Image, options: DetectOptions = {}): Promise<Face[]> {
  const threshold = options.threshold ?? 0.6;
  const maxSide = options.maxSide ?? 1280;
  const scale = Math.min(1, maxSide / Math.max(image.width, image.height));
  const input = scale < 1 ? resizeImage(image, Math.round(image.width * scale), Math.round(image.height * scale)) : image;

  const padW = roundUpTo(input.width, 32);
  const padH = roundUpTo(input.height, 32);
  const tensor = toYunetInput(input, padW, padH);
  const outputs = await runtime.runOutputs('yunet', tensor, [1, 3, padH, padW], YUNET_OUTPUTS);
  const heads: Record<string, Float32Array> = {};
  for (const name of YUNET_OUTPUTS) heads[name] = outputs[name].data;

  const faces = nonMaxSuppression(decodeYunet(heads, padW, padH, threshold), options.nmsIou ?? 0.3);
  if (scale === 1) return faces;
  return faces.map((f) => scaleFace(f, 1 / scale));
}

/** RGB interleaved → BGR planar 0..255, zero-padded to padW x padH. */
export function toYunetInput(image: Image, padW: number, padH: number): Float32Array {
  const plane = padW * padH;
  const out = new Float32Array(plane * 3);
  const src = image.data;
  for (let y = 0; y < image.height; y++) {
    let i = y * image.width * 3;
    let o = y * padW;
    for (let x = 0; x < image.width; x++, i += 3, o++) {
      out[o] = src[i + 2]; // B
      out[plane + o] = src[i + 1]; // G
      out[2 * plane + o] = src[i]; // R
    }
  }
  return out;
}

/** Decodes YuNet's heads (keys `cls_8`, `obj_8`, `bbox_8`, `kps_8`, … for strides 8/16/32). */
export function decodeYunet(
  heads: Record<string, Float32Array>,
  inputWidth: number,
  inputHeight: number,
  threshold: number,
): Face[] {
  const faces: Face[] = [];
  for (const s of YUNET_STRIDES) {
    const cols = Math.floor(inputWidth / s);
    const rows = Math.floor(inputHeight / s);
    const cls = heads[`cls_${s}`];
    const obj = heads[`obj_${s}`];
    const bbox = heads[`bbox_${s}`];
    const kps = heads[`kps_${s}`];
    const cells = Math.min(cols * rows, cls.length);
    for (let i = 0; i < cells; i++) {
      const score = Math.sqrt(clamp01(cls[i]) * clamp01(obj[i]));
      if (!(score >= threshold)) continue;
      const col = i % cols;
      const row = Math.floor(i / cols);
      const cx = (col + bbox[i * 4]) * s;
      const cy = (row + bbox[i * 4 + 1]) * s;
      const w = Math.exp(bbox[i * 4 + 2]) * s;
      const h = Math.exp(bbox[i * 4 + 3]) * s;
      const landmarks = [0, 1, 2, 3, 4].map(
        (j) => [(col + kps[i * 10 + 2 * j]) * s, (row + kps[i * 10 + 2 * j + 1]) * s] as const,
      ) as Face['landmarks'];
      faces.push({ box: { x: cx - w / 2, y: cy - h / 2, width: w, height: h }, score, landmarks });
    }
  }
  return faces;
}

/** Greedy NMS: keeps the best-scoring face of every group overlapping by more than `iou`. */
export function nonMaxSuppression(faces: readonly Face[], iou: number): Face[] {
  const sorted = [...faces].sort((a, b) => b.score - a.score);
  const kept: Face[] = [];
  for (const face of sorted) {
    if (kept.every((k) => intersectionOverUnion(k.box, face.box) <= iou)) kept.push(face);
  }
  return kept;
}

export function intersectionOverUnion(a: Rect, b: Rect): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

export function scaleFace(face: Face, k: number): Face {
  return {
    score: face.score,
    box: { x: face.box.x * k, y: face.box.y * k, width: face.box.width * k, height: face.box.height * k },
    landmarks: face.landmarks.map(([x, y]) => [x * k, y * k] as const) as Face['landmarks'],
  };
}

/** The largest face by box area, or undefined. */
export function largestFace(faces: readonly Face[]): Face | undefined {
  let best: Face | undefined;
  for (const f of faces) if (!best || f.box.width * f.box.height > best.box.width * best.box.height) best = f;
  return best;
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}
