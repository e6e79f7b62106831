/**
 * 68 face landmarks (iBUG-300W order) with PFLD: a square crop of side 1.1·max(w, h) centred on the
 * face box, resized to 112², RGB in [0, 1], NCHW. The crop can be turned by the face's roll (from the
 * detector's eye line), so a tilted head is seen upright, as the model was trained; the points are
 * mapped back to image pixels.
 *
 * Groups of the 68 points: jaw 0–16, brows 17–21 and 22–26, nose 27–35, eyes 36–41 and 42–47, outer
 * lips 48–59, inner lips 60–67.
 */
import type { ModelRuntime } from '../models/runtime.ts';
import { sampleAffine, type Affine } from './face-align.ts';
import type { Face, Point } from './faces.ts';
import type { Image, Rect } from './image.ts';

export const PFLD_SIZE = 112;
/** Crop side relative to the longer side of the detector box. */
export const PFLD_MARGIN = 1.1;

export const LANDMARK_GROUPS = {
  jaw: [0, 16],
  rightBrow: [17, 21],
  leftBrow: [22, 26],
  noseBridge: [27, 30],
  noseBase: [31, 35],
  rightEye: [36, 41],
  leftEye: [42, 47],
  outerLips: [48, 59],
  innerLips: [60, 67],
} as const satisfies Record<string, readonly [number, number]>;

/** Groups drawn as closed loops (the rest are open polylines). */
export const CLOSED_GROUPS: ReadonlySet<keyof typeof LANDMARK_GROUPS> = new Set(['rightEye', 'leftEye', 'outerLips', 'innerLips']);

/**
 * The 68 points of the face in `box`, with the crop turned by `angle` radians (the face's roll: the
 * angle of the line from its image-left eye to its image-right eye; 0 = upright).
 */
export async function pfldLandmarks(runtime: ModelRuntime, image: Image, box: Rect, angle = 0): Promise<Point[]> {
  const side = PFLD_MARGIN * Math.max(box.width, box.height);
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const k = side / PFLD_SIZE;
  const cos = Math.cos(angle) * k;
  const sin = Math.sin(angle) * k;
  // Crop (u, v) → image: rotate by the roll about the box centre, scaled to the crop side.
  const toImage: Affine = {
    a: cos,
    b: -sin,
    c: cx - cos * (PFLD_SIZE / 2) + sin * (PFLD_SIZE / 2),
    d: sin,
    e: cos,
    f: cy - sin * (PFLD_SIZE / 2) - cos * (PFLD_SIZE / 2),
  };
  const rgb = sampleAffine(image.data, image.width, image.height, 3, toImage, PFLD_SIZE, PFLD_SIZE);
  const plane = PFLD_SIZE * PFLD_SIZE;
  const input = new Float32Array(plane * 3);
  for (let p = 0, i = 0; p < plane; p++, i += 3) {
    input[p] = rgb[i] / 255;
    input[plane + p] = rgb[i + 1] / 255;
    input[2 * plane + p] = rgb[i + 2] / 255;
  }
  const out = await runtime.run('pfld', input, [1, 3, PFLD_SIZE, PFLD_SIZE]);
  const points: Point[] = [];
  for (let j = 0; j < 68; j++) {
    const u = out.data[2 * j] * PFLD_SIZE;
    const v = out.data[2 * j + 1] * PFLD_SIZE;
    points.push([toImage.a * u + toImage.b * v + toImage.c, toImage.d * u + toImage.e * v + toImage.f]);
  }
  return points;
}

/** The roll of a YuNet face: the angle of its eye line (image-left eye to image-right eye). */
export function faceRoll(face: Face): number {
  const [right, left] = face.landmarks; // the person's right eye is image-left on a frontal face
  return Math.atan2(left[1] - right[1], left[0] - right[0]);
}

/** The 68 points of a YuNet face, seen upright. */
export function landmarksForFace(runtime: ModelRuntime, image: Image, face: Face): Promise<Point[]> {
  return pfldLandmarks(runtime, image, face.box, faceRoll(face));
}
