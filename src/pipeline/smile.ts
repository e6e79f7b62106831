/**
 * Smile: a landmark-driven warp that makes a face smile.
 *
 *   faces (YuNet) → 68 points (PFLD) → frontal check → handles: mouth corners up and out, lips curved
 *   after them, cheeks and lower eyelids a little up; jaw, brows, nose, upper eyelids and a ring
 *   around the face fixed → a thin-plate spline through the handles (tps.ts), sampled on a coarse
 *   grid and applied by inverse mapping (warp-grid.ts) within the face's area only (displacement
 *   faded to zero at its edge; every pixel outside keeps its exact value)
 *
 * A thin-plate spline rather than moving least squares: MLS's inverse-distance weights make the
 * displacement peak sharply at a moving handle among fixed ones, and the skin above a mouth corner
 * folded over (negative Jacobian) from amount 0.8 on the glasses portrait; the spline, the smoothest
 * field through the same handles, keeps the map's Jacobian above 0.4 at amount 1 on the portraits.
 *
 * Offsets are fractions of the face's eye-to-chin distance, along the face's own axes (so a tilted
 * face smiles along its tilt), times `amount` (0..1).
 *
 * Limits: a face turned more than MAX_SMILE_YAW (head yaw from scaled-orthographic fits of a mean 3D
 * face to the PFLD points and to the detector's five points, the larger), or whose mouth does not
 * show (PFLD's mouth points out of proportion, or no dark lip line where they are: a plain cover), is
 * not warped: the photo's main face refuses with FACE_NOT_FRONTAL, other faces are left with a note.
 * A textured cover (a hand) still passes the mouth check and gets warped.
 *
 * Clips: `SmileClip` smooths each face track's 68 points with a One Euro filter and eases each
 * track's strength in and out, so the smile does not wobble or pop.
 */
import { AnimefyError } from '../errors.ts';
import type { ModelRuntime } from '../models/runtime.ts';
import type { Decoded } from './decode.ts';
import { encodeImage, FORMAT_MIME } from './encode.ts';
import { landmarksForFace } from './face-landmarks.ts';
import { detectFacesAnyOrientation } from './face-orientation.ts';
import { intersectionOverUnion, type Face, type Point } from './faces.ts';
import { imageToBytes, type Image, type Rect } from './image.ts';
import { DEFAULT_SMILE_AMOUNT } from './modes.ts';
import type { Progress } from './progress.ts';
import { faceBoxes } from './stylize-faces.ts';
import { evalThinPlate, fitThinPlate, type ThinPlateSpline } from './tps.ts';
import type { AnimefyRequest, AnimefyResult } from './types.ts';
import { applyWarpGrid, sampleGrid, type PixelBuffer, type WarpGrid } from './warp-grid.ts';

/** Faces turned further than this (degrees of yaw) are not warped. */
export const MAX_SMILE_YAW = 30;
/** Faces with a box side below this (px) are too small to warp meaningfully. */
export const MIN_SMILE_FACE = 24;
/** Below this `mouthContrast` no mouth shows where PFLD put one (a cover over it). */
export const MIN_MOUTH_CONTRAST = 0.06;
/** A main face that cannot smile refuses the photo when it is this much larger (area) than any other face. */
const MAIN_FACE_AREA_RATIO = 1.5;

/** Offsets at amount 1, as fractions of the eye-to-chin distance. */
const CORNER_LIFT = 0.13;
const CORNER_OUT = 0.035;
const CHEEK_LIFT = 0.045;
const CONTOUR_LIFT = 0.015;
/** Lower eyelid lift as a fraction of the eye's opening. */
const LID_LIFT = 0.3;
/** Grid step as a fraction of the eye-to-chin distance (clamped to 2..12 px). */
const GRID_STEP = 0.03;
/** Handles closer than this (fraction of the eye-to-chin distance) are merged. */
const MERGE_DISTANCE = 0.01;

// ─── Geometry ────────────────────────────────────────────────────────────────────────────────────

/** The face's own frame from its 68 points: eye axis, its normal (down the face), eye-to-chin length. */
export interface FaceAxes {
  /** Midpoint of the two eye centres. */
  eyeMid: Point;
  /** Unit vector from the image-left eye to the image-right eye. */
  ex: Point;
  /** Unit vector down the face (ex turned 90°). */
  ey: Point;
  /** Eye centre distance. */
  iod: number;
  /** Eye line to chin (point 8), along `ey`. */
  height: number;
}

export function faceAxes(points: readonly Point[]): FaceAxes {
  const right = mean(points, 36, 41);
  const left = mean(points, 42, 47);
  const vx = left[0] - right[0];
  const vy = left[1] - right[1];
  const iod = Math.hypot(vx, vy) || 1;
  const ex: Point = [vx / iod, vy / iod];
  const ey: Point = [-ex[1], ex[0]];
  const eyeMid: Point = [(left[0] + right[0]) / 2, (left[1] + right[1]) / 2];
  const height = Math.max(1, (points[8][0] - eyeMid[0]) * ey[0] + (points[8][1] - eyeMid[1]) * ey[1]);
  return { eyeMid, ex, ey, iod, height };
}

/**
 * OpenFace's mean 3D face for the iBUG 68 points (x to image-right, y down, z towards the camera, mm),
 * the points a head pose is fitted to: the chin (8) and brows, nose, eyes and lips (17–67). The jaw
 * contour is left out: on a turned face it is a silhouette, not the same points.
 */
const POSE_INDICES = [8, ...range(17, 67)];
const POSE_MODEL: ReadonlyArray<readonly [number, number, number]> = [
  [0.10, 77.06, 0.88], [-61.12, -49.36, -14.25], [-51.29, -58.77, -7.27], [-37.80, -62.00, -0.44],
  [-24.02, -61.03, 6.61], [-11.64, -56.69, 11.97], [12.06, -57.39, 12.05], [25.11, -61.90, 7.32],
  [38.34, -62.78, 1.02], [51.19, -59.30, -5.35], [60.05, -50.19, -11.62], [0.65, -42.19, 13.38],
  [0.80, -30.99, 21.15], [0.99, -19.94, 29.28], [1.23, -8.41, 36.95], [-14.77, 2.60, 20.13], [-7.18, 4.75, 23.54],
  [0.56, 6.56, 25.94], [8.27, 4.66, 23.70], [15.21, 2.64, 20.86], [-46.05, -37.47, -7.04], [-37.67, -42.73, -3.02],
  [-27.88, -42.71, -1.35], [-19.65, -36.75, 0.11], [-28.27, -35.13, 0.15], [-38.08, -34.92, -1.48],
  [19.27, -37.03, 0.67], [27.89, -43.34, -0.25], [37.44, -43.11, -1.70], [45.17, -38.09, -4.89],
  [38.20, -35.53, -0.28], [28.76, -35.48, 1.17], [-28.92, 28.61, 2.24], [-17.53, 22.17, 15.93],
  [-6.68, 19.03, 22.61], [0.38, 20.72, 23.75], [8.38, 19.04, 22.72], [18.88, 22.39, 15.61], [28.79, 28.08, 3.22],
  [19.06, 36.30, 14.99], [8.96, 39.63, 22.55], [0.38, 40.40, 23.59], [-7.43, 39.84, 22.41], [-18.16, 36.68, 15.12],
  [-24.38, 28.68, 4.79], [-6.90, 25.48, 20.89], [0.34, 26.01, 22.22], [8.44, 25.33, 21.03], [24.47, 28.32, 5.71],
  [8.45, 30.60, 20.67], [0.21, 31.41, 21.90], [-7.20, 30.84, 20.33],
];

/** The same model at YuNet's five points: eye centres, nose tip, mouth corners. */
const YUNET_MODEL = [meanOf(36, 41), meanOf(42, 47), modelPoint(30), modelPoint(48), modelPoint(54)];

/**
 * Yaw in degrees (positive: the nose points to image-right) of the best scaled-orthographic fit of
 * `model` to `points`: the least-squares 2×3 projection, its rows orthonormalised into a rotation.
 */
export function fitYaw(points: readonly Point[], model: ReadonlyArray<readonly [number, number, number]>): number {
  const n = points.length;
  let mx = 0;
  let my = 0;
  const m3 = [0, 0, 0];
  for (let j = 0; j < n; j++) {
    mx += points[j][0] / n;
    my += points[j][1] / n;
    for (let k = 0; k < 3; k++) m3[k] += model[j][k] / n;
  }
  const B = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  const C = [0, 0, 0, 0, 0, 0];
  for (let j = 0; j < n; j++) {
    const X = [model[j][0] - m3[0], model[j][1] - m3[1], model[j][2] - m3[2]];
    const x = [points[j][0] - mx, points[j][1] - my];
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) B[r * 3 + c] += X[r] * X[c];
    for (let r = 0; r < 2; r++) for (let c = 0; c < 3; c++) C[r * 3 + c] += x[r] * X[c];
  }
  const Bi = invert3(B);
  const row = (r: number): [number, number, number] => [0, 1, 2].map((c) => C[r * 3] * Bi[c] + C[r * 3 + 1] * Bi[3 + c] + C[r * 3 + 2] * Bi[6 + c]) as [number, number, number];
  const r1 = normalize3(row(0));
  const m2 = row(1);
  const d = r1[0] * m2[0] + r1[1] * m2[1] + r1[2] * m2[2];
  const r2 = normalize3([m2[0] - d * r1[0], m2[1] - d * r1[1], m2[2] - d * r1[2]]);
  const r3z = r1[0] * r2[1] - r1[1] * r2[0];
  return (Math.atan2(r1[2], r3z) * 180) / Math.PI;
}

/** Head yaw (degrees) from the 68 points. */
export function headYaw(points: readonly Point[]): number {
  return fitYaw(POSE_INDICES.map((i) => points[i]), POSE_MODEL);
}

/**
 * Head yaw (degrees) from the detector's five points. PFLD's points drift towards a frontal face on a
 * turned one (the three-quarter fixture: 35° from them, 55° from these), so both are asked.
 */
export function detectorYaw(face: Face): number {
  return fitYaw(face.landmarks, YUNET_MODEL);
}

export type SmileVerdict = 'ok' | 'turned' | 'mouth' | 'small';

/**
 * Whether a face can smile: `turned` beyond MAX_SMILE_YAW (the larger of the two yaw estimates);
 * `mouth` when the mouth points are not a plausible mouth (`mouthPlausible`) or nothing in the
 * picture looks like one there (`mouthContrast` below MIN_MOUTH_CONTRAST); `small` below
 * MIN_SMILE_FACE.
 */
export function smileVerdict(image: Image, points: readonly Point[], face: Face): { verdict: SmileVerdict; yaw: number } {
  const a = headYaw(points);
  const b = detectorYaw(face);
  const yaw = Math.abs(a) >= Math.abs(b) ? a : b;
  const { box } = face;
  if (Math.min(box.width, box.height) < MIN_SMILE_FACE) return { verdict: 'small', yaw };
  if (!(Math.abs(yaw) <= MAX_SMILE_YAW)) return { verdict: 'turned', yaw };
  return { verdict: mouthVisible(image, points) ? 'ok' : 'mouth', yaw };
}

/** Both mouth checks. */
export function mouthVisible(image: Image, points: readonly Point[]): boolean {
  return mouthPlausible(points) && mouthContrast(image, points) >= MIN_MOUTH_CONTRAST;
}

/**
 * The mouth points as a mouth: width 0.55–1.6 eye distances, height 5–90% of the width, and top to
 * bottom nose base, upper lip, lower lip, chin, with the upper lip's centre between the corners.
 */
export function mouthPlausible(points: readonly Point[]): boolean {
  const axes = faceAxes(points);
  const at = (i: number): Point => toFace(axes, points[i]);
  const l = at(48);
  const r = at(54);
  const width = r[0] - l[0];
  const height = at(57)[1] - at(51)[1];
  if (!(width > 0.55 * axes.iod && width < 1.6 * axes.iod)) return false;
  if (!(height > 0.05 * width && height < 0.9 * width)) return false;
  const nose = at(33)[1];
  const chin = at(8)[1];
  const top = at(51)[1];
  const bottom = at(57)[1];
  const mid = at(51)[0];
  return nose < top && top < bottom && bottom < chin && mid > l[0] && mid < r[0];
}

/**
 * How much a mouth shows in the picture where PFLD put it: across the mouth's middle 60%, luma
 * profiles down the face from above the upper lip to below the lower lip; a mouth has a dark line or
 * gap between the lips, so each profile dips below its ends. The median dip, relative to the ends'
 * brightness. PFLD draws a plausible mouth on anything, a plain cover included; this is what tells
 * them apart (real mouths on the fixtures 0.13–0.78, a flat patch 0).
 */
export function mouthContrast(image: Image, points: readonly Point[]): number {
  const { ey, iod } = faceAxes(points);
  const c0 = points[60];
  const c1 = points[64];
  const along = (i: number): number => (points[i][0] - c0[0]) * ey[0] + (points[i][1] - c0[1]) * ey[1];
  const top = along(51);
  const h = Math.max(along(57) - top, 0.05 * iod);
  const dips: number[] = [];
  for (let k = 0; k < 9; k++) {
    const s = 0.2 + (0.6 * k) / 8;
    const bx = c0[0] + (c1[0] - c0[0]) * s;
    const by = c0[1] + (c1[1] - c0[1]) * s;
    const profile: number[] = [];
    for (let j = 0; j <= 20; j++) {
      const v = top - 0.5 * h + (2 * h * j) / 20;
      profile.push(lumaAt(image, bx + ey[0] * v, by + ey[1] * v));
    }
    const ends = (profile[0] + profile[1] + profile[19] + profile[20]) / 4;
    const low = Math.min(...profile.slice(3, 18));
    dips.push((ends - low) / Math.max(ends, 20));
  }
  dips.sort((a, b) => a - b);
  return dips[4];
}

// ─── The warp ────────────────────────────────────────────────────────────────────────────────────

/** One face's smile: handles (input position → output position), the area that may change. */
export interface SmileHandles {
  from: Point[];
  to: Point[];
  /** The area that may change (whole pixels, unclipped). */
  area: Rect;
  /** Displacement weight at an output position: 1 inside the area, easing to 0 at its edge. */
  weight: (x: number, y: number) => number;
  /** Grid step in px. */
  step: number;
  /** Eye-to-chin distance (the spline's scale). */
  scale: number;
}

const ANCHORS = [0, 1, 5, 6, 7, 8, 9, 10, 11, 15, 16, ...range(17, 39), 42, 43, 44, 45];
const UPPER_LIP = [49, 50, 51, 52, 53];
const LOWER_LIP = [55, 56, 57, 58, 59];
const INNER_LIPS = [61, 62, 63, 65, 66, 67];
const CONTOUR: ReadonlyArray<[number, number]> = [[2, 0.5], [3, 1], [4, 0.7], [12, 0.7], [13, 1], [14, 0.5]];
/** Lower eyelid points and the upper lid points above them (the eye's opening). */
const LOWER_LIDS: ReadonlyArray<[number, number]> = [
  [40, 38],
  [41, 37],
  [46, 44],
  [47, 43],
];

/**
 * The handles of a smile of strength `amount` for a face with 68 `points` (and its detector `box`,
 * which the changing area always covers).
 */
export function smileHandles(points: readonly Point[], box: Rect, amount: number): SmileHandles {
  const axes = faceAxes(points);
  const { ex, ey, height: H } = axes;
  const from: Point[] = [];
  const to: Point[] = [];
  const move = (p: Point, out: number, lift: number): void => {
    from.push(p);
    to.push([p[0] + ex[0] * out - ey[0] * lift, p[1] + ex[1] * out - ey[1] * lift]);
  };
  const a = Math.min(1, Math.max(0, amount));
  const L = CORNER_LIFT * H * a;
  const O = CORNER_OUT * H * a;

  for (const i of ANCHORS) move(points[i], 0, 0);
  // Mouth: position across it t ∈ [-1, 1] (corners ±1); corners go up by L and out by O, the lips
  // follow with the lift growing as t², the lower lip's centre staying put (the smile's curve). Along
  // any line down the mouth the lift never grows (outer upper ≥ inner ≥ outer lower), so closed lips
  // are stretched apart, never squeezed through each other.
  const across = (i: number, l: number, r: number): number => {
    const c = toFace(axes, points[i])[0];
    const lx = toFace(axes, points[l])[0];
    const rx = toFace(axes, points[r])[0];
    const t = (2 * (c - lx)) / (rx - lx || 1) - 1;
    return Math.min(1, Math.max(-1, t));
  };
  move(points[48], -O, L);
  move(points[54], O, L);
  move(points[60], -O, L);
  move(points[64], O, L);
  for (const i of UPPER_LIP) {
    const t = across(i, 48, 54);
    move(points[i], O * t, L * (0.15 + 0.85 * t * t));
  }
  for (const i of LOWER_LIP) {
    const t = across(i, 48, 54);
    move(points[i], O * t, L * t * t);
  }
  for (const i of INNER_LIPS) {
    const t = across(i, 60, 64);
    move(points[i], O * t, L * (0.1 + 0.9 * t * t));
  }
  // Cheeks: the contour a little, the apples (between the lower lid and the mouth corner, a little
  // outward) more; lower eyelids up by a share of the eye's opening.
  for (const [i, k] of CONTOUR) move(points[i], 0, CONTOUR_LIFT * H * a * k);
  for (const [lid, corner, side] of [[mean(points, 40, 41), points[48], -1], [mean(points, 46, 47), points[54], 1]] as const) {
    const apple: Point = [
      0.55 * lid[0] + 0.45 * corner[0] + side * ex[0] * 0.12 * axes.iod,
      0.55 * lid[1] + 0.45 * corner[1] + side * ex[1] * 0.12 * axes.iod,
    ];
    move(apple, side * 0.01 * H * a, CHEEK_LIFT * H * a);
  }
  for (const [lid, upper] of LOWER_LIDS) {
    const open = Math.hypot(points[lid][0] - points[upper][0], points[lid][1] - points[upper][1]);
    move(points[lid], 0, LID_LIFT * open * a);
  }

  // The changing area: the points and the detector box, grown; its edge ring is fixed too.
  let x0 = box.x;
  let y0 = box.y;
  let x1 = box.x + box.width;
  let y1 = box.y + box.height;
  for (const [x, y] of points) {
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x);
    y1 = Math.max(y1, y);
  }
  const grow = 0.12 * Math.max(x1 - x0, y1 - y0);
  x0 = Math.floor(x0 - grow);
  y0 = Math.floor(y0 - grow);
  x1 = Math.ceil(x1 + grow);
  y1 = Math.ceil(y1 + grow);
  const ringN = 8;
  for (let k = 0; k < ringN; k++) {
    const s = k / ringN;
    move([x0 + s * (x1 - x0), y0], 0, 0);
    move([x1, y0 + s * (y1 - y0)], 0, 0);
    move([x1 - s * (x1 - x0), y1], 0, 0);
    move([x0, y1 - s * (y1 - y0)], 0, 0);
  }
  // Displacement weight: 1 inside, smoothstep to 0 over `ramp` px at the area's edge.
  const ramp = 0.3 * Math.min(x1 - x0, y1 - y0);
  const weight = (x: number, y: number): number => {
    const d = Math.min(x - x0, x1 - x, y - y0, y1 - y);
    if (d <= 0) return 0;
    if (d >= ramp) return 1;
    const u = d / ramp;
    return u * u * (3 - 2 * u);
  };
  const step = Math.max(2, Math.min(12, Math.round(GRID_STEP * H)));
  return { ...mergeClose(from, to, MERGE_DISTANCE * H), area: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, weight, step, scale: H };
}

/**
 * The smile as an inverse map: a thin-plate spline through the handles' output positions whose values
 * are the offsets back to their input positions, times the area's weight.
 */
export class SmileWarp {
  private readonly spline: ThinPlateSpline;

  constructor(readonly handles: SmileHandles) {
    const { from, to, scale } = handles;
    this.spline = fitThinPlate(to, from.map((p, i) => [p[0] - to[i][0], p[1] - to[i][1]] as const), scale);
  }

  /** Offset from output position (x, y) to the input point shown there. */
  offset(x: number, y: number): [number, number] {
    const k = this.handles.weight(x, y);
    if (!(k > 0)) return [0, 0];
    const [dx, dy] = evalThinPlate(this.spline, x, y);
    return [dx * k, dy * k];
  }

  /** The grid over the area, within `width` × `height`. */
  grid(width: number, height: number): WarpGrid {
    const { area, step, weight } = this.handles;
    const x0 = Math.max(0, area.x);
    const y0 = Math.max(0, area.y);
    const x1 = Math.min(width, area.x + area.width);
    const y1 = Math.min(height, area.y + area.height);
    const region = { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
    return sampleGrid(region, step, weight, (x, y) => evalThinPlate(this.spline, x, y));
  }

  /** Warps `image` in place. */
  apply(image: PixelBuffer): void {
    const grid = this.grid(image.width, image.height);
    if (grid.cols >= 2 && grid.rows >= 2) applyWarpGrid(image, grid);
  }

  /** Where an input point ends up (the inverse map inverted by fixed-point iteration). */
  forward(p: Point): Point {
    let x = p[0];
    let y = p[1];
    for (let i = 0; i < 8; i++) {
      const [dx, dy] = this.offset(x, y);
      x = p[0] - dx;
      y = p[1] - dy;
    }
    return [x, y];
  }
}

/** Warps one face of `image` in place. */
export function warpSmile(image: PixelBuffer, points: readonly Point[], box: Rect, amount: number): void {
  if (!(amount > 0)) return;
  new SmileWarp(smileHandles(points, box, amount)).apply(image);
}

/**
 * Handles closer than `distance` merged into one (mean position and target): the spline passes
 * through every handle exactly, so two nearly on top of each other would bend it sharply (PFLD's
 * inner lip points nearly meet on a closed mouth).
 */
function mergeClose(from: readonly Point[], to: readonly Point[], distance: number): { from: Point[]; to: Point[] } {
  const groups: { fx: number; fy: number; tx: number; ty: number; n: number }[] = [];
  for (let i = 0; i < from.length; i++) {
    const g = groups.find((c) => Math.hypot(c.fx / c.n - from[i][0], c.fy / c.n - from[i][1]) < distance);
    if (g) {
      g.fx += from[i][0];
      g.fy += from[i][1];
      g.tx += to[i][0];
      g.ty += to[i][1];
      g.n++;
    } else {
      groups.push({ fx: from[i][0], fy: from[i][1], tx: to[i][0], ty: to[i][1], n: 1 });
    }
  }
  return {
    from: groups.map((g) => [g.fx / g.n, g.fy / g.n] as const),
    to: groups.map((g) => [g.tx / g.n, g.ty / g.n] as const),
  };
}

// ─── Photos ──────────────────────────────────────────────────────────────────────────────────────

/** A face with its 68 points and whether it can smile. */
export interface SmileCandidate {
  face: Face;
  points: Point[];
  verdict: SmileVerdict;
  yaw: number;
}

/** PFLD points and the frontal check for each face. */
export async function smileCandidates(runtime: ModelRuntime, image: Image, faces: readonly Face[]): Promise<SmileCandidate[]> {
  const out: SmileCandidate[] = [];
  for (const face of faces) {
    const points = await landmarksForFace(runtime, image, face);
    out.push({ face, points, ...smileVerdict(image, points, face) });
  }
  return out;
}

/**
 * The faces that will smile. Faces below MIN_SMILE_FACE are ignored (often detector noise). Throws
 * NO_FACE_FOUND with no other face, FACE_NOT_FRONTAL when none can smile or the photo's main face
 * (the only one, or at least MAIN_FACE_AREA_RATIO times the area of any other) cannot; the other
 * faces that cannot are counted in `notes`.
 */
export function chooseSmilers(candidates: readonly SmileCandidate[], notes: string[]): SmileCandidate[] {
  const usable = candidates.filter((c) => c.verdict !== 'small');
  if (usable.length === 0) throw new AnimefyError('NO_FACE_FOUND');
  const byArea = [...usable].sort((a, b) => area(b.face) - area(a.face));
  const main = byArea[0];
  const dominant = byArea.length === 1 || area(main.face) >= MAIN_FACE_AREA_RATIO * area(byArea[1].face);
  const ok = usable.filter((c) => c.verdict === 'ok');
  if (ok.length === 0 || (dominant && main.verdict !== 'ok')) throw new AnimefyError('FACE_NOT_FRONTAL');
  const turned = usable.filter((c) => c.verdict === 'turned').length;
  const hidden = usable.filter((c) => c.verdict === 'mouth').length;
  if (turned > 0) notes.push(`${count(turned, 'face')} turned away from the camera ${turned === 1 ? 'was' : 'were'} left as ${turned === 1 ? 'it was' : 'they were'}.`);
  if (hidden > 0) notes.push(`${count(hidden, 'face')} whose mouth I couldn't see ${hidden === 1 ? 'was' : 'were'} left as ${hidden === 1 ? 'it was' : 'they were'}.`);
  return ok;
}

/**
 * A photo with its faces (YuNet, in `image` pixels) made to smile by `amount` (0..1). See
 * `chooseSmilers` for what is refused. Returns a new image and the number of faces warped.
 */
export async function smileImage(
  runtime: ModelRuntime,
  image: Image,
  faces: readonly Face[],
  amount: number,
  notes: string[],
): Promise<{ image: Image; smiled: number }> {
  const smilers = chooseSmilers(await smileCandidates(runtime, image, faces), notes);
  const out: Image = { width: image.width, height: image.height, data: image.data.slice() };
  for (const s of smilers) warpSmile(out, s.points, s.face.box, amount);
  return { image: out, smiled: smilers.length };
}

/**
 * A decoded photo smiling at both resolutions (the working image and the full-size original, warped
 * from the same points, scaled), for `animefy` with `request.smile`. `faces` are in working pixels;
 * they come back with their detector mouth corners moved with the smile.
 */
export async function smileDecoded(
  runtime: ModelRuntime,
  decoded: Decoded,
  faces: readonly Face[],
  amount: number,
  notes: string[],
): Promise<{ decoded: Decoded; faces: Face[]; smiled: number }> {
  const photo = decoded.image;
  const smilers = chooseSmilers(await smileCandidates(runtime, photo, faces), notes);
  const image: Image = { width: photo.width, height: photo.height, data: photo.data.slice() };
  const { original } = decoded;
  const k = original.width / photo.width;
  const sameSize = original.width === photo.width && original.height === photo.height;
  const rgb = sameSize ? undefined : Buffer.from(original.rgb);
  const moved = new Map<Face, Face>();
  for (const s of smilers) {
    const warp = new SmileWarp(smileHandles(s.points, s.face.box, amount));
    if (amount > 0) warp.apply(image);
    if (rgb) warpSmile({ width: original.width, height: original.height, data: rgb }, scalePoints(s.points, k), scaleRect(s.face.box, k), amount);
    const lm = s.face.landmarks;
    moved.set(s.face, { ...s.face, landmarks: [lm[0], lm[1], lm[2], warp.forward(lm[3]), warp.forward(lm[4])] });
  }
  return {
    decoded: { ...decoded, image, original: { ...original, rgb: rgb ?? imageToBytes(image) } },
    faces: faces.map((f) => moved.get(f) ?? f),
    smiled: smilers.length,
  };
}

/**
 * The `smile` operation: the real photo, at its own size, with its faces smiling (`request.smile`,
 * default DEFAULT_SMILE_AMOUNT). Stages: `faces` (detector, 68 points, frontal check), `compose`
 * (the warp at full size, from the working-size points scaled), `encode`; `timings.smile` is the
 * time spent on points, check and warp.
 */
export async function smilePhoto(
  runtime: ModelRuntime,
  decoded: Decoded,
  request: AnimefyRequest,
  progress: Progress,
  notes: string[],
  options: { threshold?: number } = {},
): Promise<AnimefyResult> {
  const { signal } = request;
  const amount = request.smile ?? DEFAULT_SMILE_AMOUNT;
  const photo = decoded.image;
  const { original } = decoded;
  const { width, height } = original;
  const k = width / photo.width;
  let spent = 0;
  const { faces, smilers } = await progress.stage('faces', signal, async () => {
    const found = await detectFacesAnyOrientation(runtime, photo, { threshold: options.threshold });
    const started = performance.now();
    const chosen = chooseSmilers(await smileCandidates(runtime, photo, found.faces), notes);
    spent += performance.now() - started;
    return { faces: found.faces, smilers: chosen };
  });
  const rgb = await progress.stage('compose', signal, async () => {
    const started = performance.now();
    const out = Buffer.from(original.rgb);
    for (const s of smilers) warpSmile({ width, height, data: out }, scalePoints(s.points, k), scaleRect(s.face.box, k), amount);
    spent += performance.now() - started;
    return out;
  });
  progress.timings.smile = Math.round(spent);
  if (request.upscale > 1) notes.push('Smile keeps the photo at its own size (no upscale).');
  const data = await progress.stage('encode', signal, () => encodeImage({ width, height, rgb, alpha: original.alpha }, request.format));
  return {
    data,
    format: request.format,
    mime: FORMAT_MIME[request.format],
    width,
    height,
    style: request.style,
    mode: request.mode,
    operation: 'smile',
    faces: faces.length,
    stylizedFaces: 0,
    faceBoxes: faceBoxes(faces, [], k),
    timings: progress.finish(),
    notes,
  };
}

// ─── Clips ───────────────────────────────────────────────────────────────────────────────────────

/** One Euro filter (Casiez, Roussel and Vogel 2012) on many values sharing one time base. */
export class OneEuroFilter {
  private x: Float64Array | undefined;
  private dx: Float64Array | undefined;
  private t = 0;

  /**
   * @param minCutoff cutoff (per time unit) when still
   * @param beta cutoff added per unit of speed (speed divided by `scale`)
   * @param dCutoff cutoff of the speed estimate
   */
  constructor(
    private readonly minCutoff: number,
    private readonly beta: number,
    private readonly dCutoff = 1,
  ) {}

  /** Filters `values` observed at time `t` (after the previous call's); `scale` normalises speed. */
  filter(values: ArrayLike<number>, t: number, scale = 1): Float64Array {
    if (!this.x || !this.dx || t <= this.t) {
      this.x = Float64Array.from(values);
      this.dx = new Float64Array(values.length);
      this.t = t;
      return this.x.slice();
    }
    const te = t - this.t;
    this.t = t;
    const ad = smoothing(te, this.dCutoff);
    for (let i = 0; i < values.length; i++) {
      const d = (values[i] - this.x[i]) / te;
      this.dx[i] += ad * (d - this.dx[i]);
      const cutoff = this.minCutoff + (this.beta * Math.abs(this.dx[i])) / scale;
      this.x[i] += smoothing(te, cutoff) * (values[i] - this.x[i]);
    }
    return this.x.slice();
  }
}

function smoothing(te: number, cutoff: number): number {
  const tau = 1 / (2 * Math.PI * cutoff);
  return 1 / (1 + tau / te);
}

export interface SmileClipOptions {
  /** Smile strength 0..1 (default DEFAULT_SMILE_AMOUNT). */
  amount?: number;
  /** One Euro cutoff when still, per frame (default 0.08: strong smoothing of a still face). */
  minCutoff?: number;
  /** One Euro speed coefficient, speed in eye-to-chin lengths per frame (default 4). */
  beta?: number;
  /** Frames a track may go unseen and keep its filter (default 5). */
  maxGap?: number;
  /** Strength change per frame as a face starts or stops smiling (default 0.25). */
  ease?: number;
  /** Notes for the user (a face that could not smile is named once). */
  notes?: string[];
}

interface SmileTrack {
  box: Rect;
  lastSeen: number;
  filter: OneEuroFilter;
  /** Current strength (eases towards the amount, or 0 while the face cannot smile); undefined until first seen. */
  strength?: number;
  /** Last frontal decision (with hysteresis); undefined until first seen. */
  frontal?: boolean;
}

/** Hysteresis of the frontal decision in clips (degrees): a smiling face stops at MAX_SMILE_YAW + this. */
const YAW_HYSTERESIS = 4;

/**
 * A smile for every frame of a clip: faces are matched to tracks by box overlap (or centre distance),
 * each track's 68 points are One Euro filtered, its frontal decision has hysteresis and its strength
 * eases between the amount and 0 when that decision changes, so the smile holds still on a still face
 * and never pops on or off. A new track starts at its target. Never throws for faces that cannot
 * smile: they are left as they are and named once in `notes`.
 */
export class SmileClip {
  private readonly tracks: SmileTrack[] = [];
  private readonly amount: number;
  private readonly minCutoff: number;
  private readonly beta: number;
  private readonly maxGap: number;
  private readonly ease: number;
  private noted = false;
  /** The smoothed 68 points of each face on the last frame, in `faces` order (undefined: a face too small). */
  lastPoints: Array<Point[] | undefined> = [];

  constructor(
    private readonly runtime: ModelRuntime,
    private readonly options: SmileClipOptions = {},
  ) {
    this.amount = Math.min(1, Math.max(0, options.amount ?? DEFAULT_SMILE_AMOUNT));
    this.minCutoff = options.minCutoff ?? 0.08;
    this.beta = options.beta ?? 4;
    this.maxGap = options.maxGap ?? 5;
    this.ease = options.ease ?? 0.25;
  }

  /** Frame `index` (increasing) smiling; `faces` in `photo` pixels. Returns a new image. */
  async frame(photo: Image, faces: readonly Face[], index: number): Promise<Image> {
    const out: Image = { width: photo.width, height: photo.height, data: photo.data.slice() };
    const used = new Set<SmileTrack>();
    this.lastPoints = faces.map(() => undefined);
    // Larger faces pick their tracks first.
    const order = faces.map((_, i) => i).sort((a, b) => area(faces[b]) - area(faces[a]));
    for (const i of order) {
      const face = faces[i];
      const raw = await landmarksForFace(this.runtime, photo, face);
      const track = this.match(face, index, used);
      used.add(track);
      track.box = face.box;
      track.lastSeen = index;
      const smoothed = track.filter.filter(raw.flat(), index, faceAxes(raw).height);
      const points: Point[] = [];
      for (let j = 0; j < 68; j++) points.push([smoothed[2 * j], smoothed[2 * j + 1]]);
      const { verdict, yaw } = smileVerdict(photo, points, face);
      if (verdict === 'small') continue;
      this.lastPoints[i] = points;
      const limit = track.frontal === true ? MAX_SMILE_YAW + YAW_HYSTERESIS : MAX_SMILE_YAW;
      track.frontal = verdict === 'ok' || (verdict === 'turned' && Math.abs(yaw) <= limit && mouthVisible(photo, points));
      if (!track.frontal && !this.noted) {
        this.noted = true;
        this.options.notes?.push('Faces turned away from the camera (or with the mouth hidden) were left without a smile.');
      }
      const target = track.frontal ? this.amount : 0;
      const strength = track.strength === undefined ? target : track.strength + Math.max(-this.ease, Math.min(this.ease, target - track.strength));
      track.strength = strength;
      if (strength > 0) warpSmile(out, points, face.box, strength);
    }
    for (let i = this.tracks.length - 1; i >= 0; i--) if (index - this.tracks[i].lastSeen > this.maxGap) this.tracks.splice(i, 1);
    return out;
  }

  /** The open track this face continues (best box overlap, else nearest centre), or a new one. */
  private match(face: Face, index: number, used: ReadonlySet<SmileTrack>): SmileTrack {
    const size = Math.max(face.box.width, face.box.height);
    let best: SmileTrack | undefined;
    let bestScore = 0;
    for (const t of this.tracks) {
      if (used.has(t) || index - t.lastSeen > this.maxGap) continue;
      const iou = intersectionOverUnion(t.box, face.box);
      const dist = Math.hypot(centre(t.box)[0] - centre(face.box)[0], centre(t.box)[1] - centre(face.box)[1]);
      // Overlap first; a fast-moving face with little overlap still matches by centre (scored below 0.3).
      const score = iou > 0.3 ? iou : dist < 0.5 * size ? 0.3 * (1 - dist / (0.5 * size)) : 0;
      if (score > bestScore) {
        best = t;
        bestScore = score;
      }
    }
    if (best) return best;
    const track: SmileTrack = { box: face.box, lastSeen: index, filter: new OneEuroFilter(this.minCutoff, this.beta) };
    this.tracks.push(track);
    return track;
  }
}

// ─── Helpers ─────────────────────────────────────────────────────────────────────────────────────

function toFace(axes: FaceAxes, p: Point): Point {
  const dx = p[0] - axes.eyeMid[0];
  const dy = p[1] - axes.eyeMid[1];
  return [dx * axes.ex[0] + dy * axes.ex[1], dx * axes.ey[0] + dy * axes.ey[1]];
}

/** BT.601 luma at (x, y) in continuous coordinates (pixel centres at +0.5), bilinear, clamped. */
function lumaAt(image: Image, x: number, y: number): number {
  const fx = Math.min(Math.max(x - 0.5, 0), image.width - 1);
  const fy = Math.min(Math.max(y - 0.5, 0), image.height - 1);
  const x0 = Math.floor(fx);
  const y0 = Math.floor(fy);
  const x1 = Math.min(x0 + 1, image.width - 1);
  const y1 = Math.min(y0 + 1, image.height - 1);
  const L = (xx: number, yy: number): number => {
    const i = (yy * image.width + xx) * 3;
    return 0.299 * image.data[i] + 0.587 * image.data[i + 1] + 0.114 * image.data[i + 2];
  };
  const tx = fx - x0;
  const ty = fy - y0;
  return (L(x0, y0) * (1 - tx) + L(x1, y0) * tx) * (1 - ty) + (L(x0, y1) * (1 - tx) + L(x1, y1) * tx) * ty;
}

function mean(points: readonly Point[], first: number, last: number): Point {
  let x = 0;
  let y = 0;
  for (let i = first; i <= last; i++) {
    x += points[i][0];
    y += points[i][1];
  }
  const n = last - first + 1;
  return [x / n, y / n];
}

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

function area(face: Face): number {
  return face.box.width * face.box.height;
}

function centre(r: Rect): Point {
  return [r.x + r.width / 2, r.y + r.height / 2];
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function scalePoints(points: readonly Point[], k: number): Point[] {
  return points.map(([x, y]) => [x * k, y * k] as const);
}

function scaleRect(r: Rect, k: number): Rect {
  return { x: r.x * k, y: r.y * k, width: r.width * k, height: r.height * k };
}

function modelPoint(i: number): readonly [number, number, number] {
  return POSE_MODEL[POSE_INDICES.indexOf(i)];
}

function meanOf(first: number, last: number): [number, number, number] {
  const m: [number, number, number] = [0, 0, 0];
  for (let i = first; i <= last; i++) for (let k = 0; k < 3; k++) m[k] += modelPoint(i)[k] / (last - first + 1);
  return m;
}

function invert3(m: number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  const k = 1 / det;
  return [A * k, -(b * i - c * h) * k, (b * f - c * e) * k, B * k, (a * i - c * g) * k, -(a * f - c * d) * k, C * k, -(a * h - b * g) * k, (a * e - b * d) * k];
}

function normalize3(v: [number, number, number]): [number, number, number] {
  const n = Math.hypot(v[0], v[1], v[2]) || 1;
  return [v[0] / n, v[1] / n, v[2] / n];
}
