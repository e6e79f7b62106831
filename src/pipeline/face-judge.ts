/**
 * Face judge: after the face model has drawn a face, decide from its output whether it drew a face at
 * all. JP_face turns faces it cannot read (small, dark, turned away, behind sunglasses, soft video
 * frames) into blank pale ovals; those faces keep the scene model's rendering instead.
 *
 * Two measurements on the aligned crop (the eyes' positions there are known from the detector):
 *
 * - **Eye contrast**: (median lightness of the cheeks just under the eyes − the darker eye window's
 *   10th-percentile lightness) / cheek lightness. Drawn anime eyes are dark on light skin (≥ 0.62 on
 *   every face the model drew well in the fixtures); a blank oval has none (≤ 0.55).
 * - **The face detector finds the face again** on the output, with both eyes within 8% of the crop of
 *   where they were (YuNet score ≥ 0.5). It catches broken faces that still have dark blobs near the
 *   eyes (a helmeted jockey, a profile drawn as a second face beside the real one). Those reached an
 *   eye contrast of 0.63–0.66, so a face with clearly drawn eyes (≥ 0.72) skips this second check.
 *
 * The thresholds and the measurements that chose them are in the README's "Faces" section.
 */
import type { ModelRuntime } from '../models/runtime.ts';
import { invertAffine, type FaceCrop } from './face-align.ts';
import { detectFaces, type Face, type Point } from './faces.ts';
import type { Image } from './image.ts';

export const FACE_JUDGE = {
  /** Eye contrast at or above which the eyes count as drawn. */
  minEyeContrast: 0.58,
  /** Eye contrast from which the face counts as drawn without asking the detector. */
  sureEyeContrast: 0.72,
  /** YuNet score the redrawn face must reach. */
  minDetectorScore: 0.5,
  /** Largest distance of a redetected eye from its place, as a fraction of the crop side. */
  maxEyeShift: 0.08,
} as const;

export interface FaceVerdict {
  ok: boolean;
  eyeContrast: number;
  /** Best YuNet score of a face whose eyes sit where the input's were (0: none; absent: not asked). */
  detectorScore?: number;
}

/** The face's two eye landmarks in the crop's pixel coordinates. */
export function eyesInCrop(face: Face, crop: FaceCrop): [Point, Point] {
  const inv = invertAffine(crop.toImage);
  const map = ([x, y]: Point): Point => [inv.a * x + inv.b * y + inv.c, inv.d * x + inv.e * y + inv.f];
  return [map(face.landmarks[0]), map(face.landmarks[1])];
}

/** See the module comment. 0 when the eyes are as light as the cheeks. */
export function eyeContrast(crop: Image, eyes: readonly [Point, Point]): number {
  const size = crop.width;
  const half = 0.06 * size;
  const eyeDark = Math.max(...eyes.map(([x, y]) => percentile(lightness(crop, x - half, y - 0.8 * half, x + half, y + 0.8 * half), 0.1)));
  const cheeks = eyes.map(([x, y]) => percentile(lightness(crop, x - 0.05 * size, y + 0.1 * size, x + 0.05 * size, y + 0.16 * size), 0.5));
  const cheek = (cheeks[0] + cheeks[1]) / 2;
  return (cheek - eyeDark) / Math.max(cheek, 1);
}

export async function judgeFace(runtime: ModelRuntime, styledCrop: Image, eyes: readonly [Point, Point]): Promise<FaceVerdict> {
  const contrast = eyeContrast(styledCrop, eyes);
  if (contrast < FACE_JUDGE.minEyeContrast) return { ok: false, eyeContrast: contrast, detectorScore: 0 };
  if (contrast >= FACE_JUDGE.sureEyeContrast) return { ok: true, eyeContrast: contrast };
  const size = styledCrop.width;
  let score = 0;
  for (const found of await detectFaces(runtime, styledCrop, { threshold: 0.3 })) {
    const shift = Math.max(
      Math.hypot(found.landmarks[0][0] - eyes[0][0], found.landmarks[0][1] - eyes[0][1]),
      Math.hypot(found.landmarks[1][0] - eyes[1][0], found.landmarks[1][1] - eyes[1][1]),
    );
    if (shift <= FACE_JUDGE.maxEyeShift * size) score = Math.max(score, found.score);
  }
  return { ok: score >= FACE_JUDGE.minDetectorScore, eyeContrast: contrast, detectorScore: score };
}

/** Luma (BT.601) of the pixels of `image` inside a rectangle, clipped to the image. */
function lightness(image: Image, x0: number, y0: number, x1: number, y1: number): Float32Array {
  const xa = Math.max(0, Math.round(x0));
  const xb = Math.min(image.width, Math.round(x1));
  const ya = Math.max(0, Math.round(y0));
  const yb = Math.min(image.height, Math.round(y1));
  const out = new Float32Array(Math.max(0, xb - xa) * Math.max(0, yb - ya));
  const d = image.data;
  let n = 0;
  for (let y = ya; y < yb; y++) {
    for (let x = xa; x < xb; x++) {
      const i = (y * image.width + x) * 3;
      out[n++] = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
    }
  }
  return out;
}

function percentile(values: Float32Array, q: number): number {
  if (values.length === 0) return 0;
  const sorted = values.slice().sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}
