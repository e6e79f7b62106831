/**
 * The `landmarks` operation: every face's box and 68 points (PFLD, face-landmarks.ts) drawn on the
 * picture (landmarks-draw.ts) and returned as JSON (`LandmarkFace`). GIFs and videos go through
 * MediaPipeline.landmarks, which tracks and smooths the faces over time (media/landmark-tracks.ts).
 *
 * Faces of two kinds:
 * - real: YuNet (settings.faceThreshold), then PFLD on the box turned upright by the eye line;
 * - anime/drawn: FaceBoxes trained on anime faces (anime-faces.ts). Both detectors fire on both kinds
 *   (FaceBoxes scores 0.70–1.00 on the real portrait fixtures, YuNet 0.81 on the drawn Sylvie face), so
 *   a FaceBoxes box overlapping a YuNet face is that real face unless YuNet is unsure (< SURE_REAL_SCORE)
 *   and the crop looks drawn (`looksDrawn`).
 *
 * PFLD on anime faces, measured against hand-marked points on the two anime fixtures (errors as % of
 * the distance between the eye centres; the real portrait for comparison: 3–13 %): mouth corners 3–11 %,
 * chin 7–15 %, nose tip 5–19 %, eye centres 7–30 %, eye corners 3–33 %, and its eye outlines are half to
 * three quarters as wide as the drawn eyes (they sit inside the iris). The 68-point shape is a human
 * face laid over the drawing, so anime faces get `points: null` and only five keypoints from PFLD (eye
 * centres, nose tip, mouth corners), drawn as dots with the box.
 */
import { AnimefyError } from '../errors.ts';
import type { ModelRuntime } from '../models/runtime.ts';
import { detectAnimeFaces } from './anime-faces.ts';
import type { Decoded } from './decode.ts';
import { encodeImage, FORMAT_MIME } from './encode.ts';
import { faceRoll, pfldLandmarks } from './face-landmarks.ts';
import { detectFacesAnyOrientation } from './face-orientation.ts';
import { detectFaces, intersectionOverUnion, type Face, type Point } from './faces.ts';
import type { Image, Rect } from './image.ts';
import { drawLandmarkFaces, type DrawnFace } from './landmarks-draw.ts';
import type { Progress } from './progress.ts';
import type { FaceBox } from './stylize-faces.ts';
import type { AnimefyRequest, AnimefyResult, LandmarkFace } from './types.ts';

/** A YuNet face at least this sure is real whatever FaceBoxes says (real fixtures: 0.885–0.945). */
export const SURE_REAL_SCORE = 0.85;
/** FaceBoxes score for an anime face (the fixtures' faces score ≥ 0.996). */
export const ANIME_THRESHOLD = 0.6;
/**
 * A crop "looks drawn" when fewer than this share of its pixels have soft local contrast (3x3 luma
 * range 8–40): photos are full of it (real faces 0.41–0.75, GIF frames of a film 0.49–0.57), flat fills
 * and line art are not (anime fixtures 0.04 and 0.31).
 */
export const DRAWN_SOFT_SHARE = 0.36;

/** A face found on one picture, before its points. */
export interface FoundFace {
  kind: 'real' | 'anime';
  box: Rect;
  score: number;
  /** Real faces: YuNet's five points (eyes, nose tip, mouth corners). */
  face?: Face;
}

export interface FindOptions {
  /** YuNet threshold (settings.faceThreshold). */
  threshold: number;
  /** Photos: search the other quarter turns too (face-orientation.ts). Frames: upright only. */
  anyOrientation?: boolean;
}

/** Real and anime faces in `image`, left to right (the module comment says how a face both detectors find is told apart). */
export async function findFaces(runtime: ModelRuntime, image: Image, options: FindOptions): Promise<FoundFace[]> {
  const real = options.anyOrientation
    ? (await detectFacesAnyOrientation(runtime, image, { threshold: options.threshold })).faces
    : await detectFaces(runtime, image, { threshold: options.threshold });
  const anime = await detectAnimeFaces(runtime, image, { threshold: ANIME_THRESHOLD });
  const drawnReal = new Set<Face>();
  const out: FoundFace[] = [];
  for (const a of anime) {
    const twin = real.find((r) => overlaps(r.box, a.box));
    if (twin) {
      if (twin.score >= SURE_REAL_SCORE || !looksDrawn(image, twin.box)) continue; // the real face
      drawnReal.add(twin);
    }
    out.push({ kind: 'anime', box: a.box, score: a.score });
  }
  for (const face of real) if (!drawnReal.has(face)) out.push({ kind: 'real', box: face.box, score: face.score, face });
  return out.sort((p, q) => p.box.x + p.box.width / 2 - (q.box.x + q.box.width / 2));
}

/** Same face: IoU over 0.2, or most of the smaller box inside the other (FaceBoxes boxes are loose). */
function overlaps(a: Rect, b: Rect): boolean {
  if (intersectionOverUnion(a, b) > 0.2) return true;
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w > 0 && h > 0 && (w * h) / Math.min(a.width * a.height, b.width * b.height) > 0.6;
}

/** Whether the middle of `box` looks drawn rather than photographed (DRAWN_SOFT_SHARE). */
export function looksDrawn(image: Image, box: Rect): boolean {
  return softContrastShare(image, box) < DRAWN_SOFT_SHARE;
}

/** Share of the pixels in the middle 70 % of `box` whose 3x3 luma range is 8–40. */
export function softContrastShare(image: Image, box: Rect): number {
  const { width, height, data } = image;
  const x0 = Math.max(1, Math.round(box.x + box.width * 0.15));
  const x1 = Math.min(width - 2, Math.round(box.x + box.width * 0.85));
  const y0 = Math.max(1, Math.round(box.y + box.height * 0.15));
  const y1 = Math.min(height - 2, Math.round(box.y + box.height * 0.85));
  if (x1 < x0 || y1 < y0) return 1;
  const lw = x1 - x0 + 3;
  const lum = new Float32Array(lw * (y1 - y0 + 3));
  for (let y = y0 - 1; y <= y1 + 1; y++) {
    for (let x = x0 - 1; x <= x1 + 1; x++) {
      const i = (y * width + x) * 3;
      lum[(y - y0 + 1) * lw + (x - x0 + 1)] = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
    }
  }
  let soft = 0;
  let n = 0;
  for (let y = 1; y <= y1 - y0 + 1; y++) {
    for (let x = 1; x <= x1 - x0 + 1; x++) {
      let lo = 255;
      let hi = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const v = lum[(y + dy) * lw + x + dx];
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
      const range = hi - lo;
      if (range >= 8 && range < 40) soft++;
      n++;
    }
  }
  return soft / n;
}

/** PFLD's 68 points as PFLD gives them, and the five keypoints the face is drawn with. */
export interface FacePoints {
  /** Real faces: the 68 points; anime faces: null (see the module comment). */
  points: Point[] | null;
  /** Eyes (image-left first), nose tip, mouth corners. */
  keypoints: Point[];
  /** PFLD's raw 68 points, also for anime faces (for measuring; not shown). */
  raw: Point[];
}

/** PFLD points for a found face; `box` and `angle` override its own (a tracked, smoothed box). */
export async function facePoints(runtime: ModelRuntime, image: Image, found: FoundFace, box = found.box, angle?: number): Promise<FacePoints> {
  const roll = angle ?? (found.face ? faceRoll(found.face) : 0);
  const raw = await pfldLandmarks(runtime, image, box, roll);
  if (found.kind === 'real') return { points: raw, keypoints: found.face ? [...found.face.landmarks] : keypointsOf(raw), raw };
  return { points: null, keypoints: keypointsOf(raw), raw };
}

/** Five keypoints from 68 points: eye centres, nose tip, mouth corners (YuNet's order). */
export function keypointsOf(points: readonly Point[]): Point[] {
  const mean = (a: number, b: number): Point => {
    let x = 0;
    let y = 0;
    for (let i = a; i <= b; i++) {
      x += points[i][0];
      y += points[i][1];
    }
    return [x / (b - a + 1), y / (b - a + 1)];
  };
  return [mean(36, 41), mean(42, 47), points[30], points[48], points[54]];
}

/** A face as JSON, scaled by `k` (working → input pixels), to 0.1 px. */
export function landmarkJson(frame: number, id: number, kind: 'real' | 'anime', box: Rect, points: readonly Point[] | null, keypoints: readonly Point[] | undefined, k: number): LandmarkFace {
  const r = (v: number) => Math.round(v * k * 10) / 10;
  const pt = (p: Point): [number, number] => [r(p[0]), r(p[1])];
  return {
    frame,
    id,
    box: { x: r(box.x), y: r(box.y), w: r(box.width), h: r(box.height) },
    points: points ? points.map(pt) : null,
    ...(keypoints ? { keypoints: keypoints.map(pt) } : {}),
    kind,
  };
}

/** How a face is drawn: real faces with their 68 points, anime faces with the box and five keypoints. */
export function drawnFace(id: number, kind: 'real' | 'anime', box: Rect, fp: Pick<FacePoints, 'points' | 'keypoints'>): DrawnFace {
  return { id, kind, box, points: fp.points, keypoints: fp.points ? undefined : fp.keypoints };
}

/** Scales a drawn face's geometry by `k`. */
function scaleDrawn(face: DrawnFace, k: number): DrawnFace {
  const s = (p: Point): Point => [p[0] * k, p[1] * k];
  return {
    ...face,
    box: { x: face.box.x * k, y: face.box.y * k, width: face.box.width * k, height: face.box.height * k },
    points: face.points && face.points.map(s),
    keypoints: face.keypoints?.map(s),
  };
}

/**
 * The photo path (ImagePipeline.animefy with `operation: 'landmarks'`): faces on the working picture,
 * points drawn on the full-size original. Throws NO_FACE_FOUND when there is none.
 */
export async function landmarksResult(
  runtime: ModelRuntime,
  settings: { faceThreshold: number },
  decoded: Decoded,
  request: AnimefyRequest,
  progress: Progress,
): Promise<AnimefyResult> {
  const { signal } = request;
  const photo = decoded.image;
  const faces = await progress.stage('faces', signal, async () => {
    const found = await findFaces(runtime, photo, { threshold: settings.faceThreshold, anyOrientation: true });
    const out: { found: FoundFace; id: number; fp: FacePoints }[] = [];
    for (const [i, f] of found.entries()) out.push({ found: f, id: i + 1, fp: await facePoints(runtime, photo, f) });
    return out;
  });
  if (faces.length === 0) throw new AnimefyError('NO_FACE_FOUND');
  const { original } = decoded;
  const k = original.width / photo.width;
  const rgb = await progress.stage('compose', signal, async () => {
    const canvas = { width: original.width, height: original.height, data: Buffer.from(original.rgb), alpha: original.alpha && Buffer.from(original.alpha) };
    drawLandmarkFaces(canvas, faces.map(({ found, id, fp }) => scaleDrawn(drawnFace(id, found.kind, found.box, fp), k)));
    return canvas;
  });
  const data = await progress.stage('encode', signal, () =>
    encodeImage({ width: original.width, height: original.height, rgb: rgb.data, alpha: rgb.alpha }, request.format),
  );
  const faceBoxes: FaceBox[] = faces.map(({ found: { box, score } }) => ({
    x: Math.round(box.x * k),
    y: Math.round(box.y * k),
    w: Math.round(box.width * k),
    h: Math.round(box.height * k),
    score: Math.round(score * 1000) / 1000,
    renderer: 'scene',
  }));
  return {
    data,
    format: request.format,
    mime: FORMAT_MIME[request.format],
    width: original.width,
    height: original.height,
    style: request.style,
    mode: request.mode,
    operation: 'landmarks',
    faces: faces.length,
    stylizedFaces: 0,
    faceBoxes,
    landmarks: faces.map(({ found, id, fp }) => landmarkJson(0, id, found.kind, found.box, fp.points, fp.keypoints, k)),
    timings: progress.finish(),
    notes: [],
  };
}
