/**
 * Faces in pictures turned on their side or upside down with no EXIF orientation to say so (a phone
 * photo whose tag was stripped by an editor or a messenger).
 *
 * YuNet does not simply miss a turned face: it often finds it anyway (sideways at 0.63–0.86,
 * upside down at up to 0.88 on the portrait fixtures) and places the five landmarks where an upright
 * face's would be, so the alignment would level a face that is really on its side and the face model
 * would draw it sideways. The same face upright scores 0.93–0.94 at the fixtures' size (0.83–0.96 at
 * 1280 px). So: the upright pass decides alone when it has a sure face (SURE_UPRIGHT_SCORE);
 * otherwise the picture is searched at the three other quarter turns as well, and the turn that shows
 * the faces best wins (`chooseTurn`).
 *
 * Faces found on a turned copy are mapped back into the original picture's pixels, landmarks
 * included and in their order (the person's right eye stays the right eye). Nothing downstream needs
 * to know about the turn: the face alignment (face-align.ts) builds each crop's axes from the eyes and
 * the mouth, so a face lying on its side in the picture comes out upright in its crop (the same crop,
 * to resampling, as from the upright photo), and is warped back, stylized, at its place and angle.
 * The user's picture is never turned.
 *
 * Cost, measured on the 2-core CPU with the session loaded: one YuNet run takes 22–29 ms on a
 * 679x768 portrait and 84–89 ms at the 1280 px working size (1132x1280), about the same at every
 * turn; the turn itself, a copy of the working picture, 5 ms and 13 ms. A picture with a sure upright
 * face pays nothing more (the faces stage of that portrait: 34–47 ms); any other picture (no face,
 * only weak faces, a turned photo) pays three more runs: that portrait turned 90° or 180° spends
 * 125–210 ms in the faces stage, in a job of 1.6–1.9 s against 1.5–1.6 s upright. The faces
 * test (test/pipeline/face-orientation.test.ts) logs the time per run on a picture with no face.
 */
import type { ModelRuntime } from '../models/runtime.ts';
import { detectFaces, type DetectOptions, type Face, type Point } from './faces.ts';
import type { Image, Rect } from './image.ts';

/** Clockwise quarter turns: 0 = as given, 1 = 90°, 2 = 180°, 3 = 270°. */
export type QuarterTurns = 0 | 1 | 2 | 3;

/** The other orientations, in the order they are searched. */
export const OTHER_TURNS: readonly QuarterTurns[] = [1, 3, 2];

/**
 * An upright face scoring this settles the orientation with one detector run: no sideways or
 * upside-down face in the fixtures reached 0.89 (see the module comment).
 */
export const SURE_UPRIGHT_SCORE = 0.92;

/**
 * A face found only on a turned copy (no upright detection of it) must score this much to count, and
 * TURN_MARGIN more than the best upright face. Three more searches are three more chances for the
 * detector's noise: turned scenery reads as a face at 0.62–0.63 (a room, a person's back), a horse's
 * legs upside down at 0.79 beside a jockey found upright at 0.73; the real turned faces score
 * 0.83–0.96.
 */
export const MIN_TURNED_SCORE = 0.7;
export const TURN_MARGIN = 0.1;

/**
 * Two boxes (in the original frame) are the same face found at two turns when this much of the
 * smaller one lies in the larger. Not IoU: on a large face a wrong turn often finds only a part of it
 * (an eye and the nose, a third of the real box's area, inside it).
 */
const SAME_FACE_OVERLAP = 0.5;

export interface OrientedFaces {
  /** Faces in the original picture's pixels (boxes axis-aligned there, landmarks in detector order). */
  faces: Face[];
  /** The clockwise turn that shows the faces upright (0 when found as given, or when none were found). */
  turns: QuarterTurns;
  /** Detector runs made: 1 when the upright pass is sure, otherwise 4. */
  runs: number;
}

/** A face found at one turn, in the original frame. */
export interface TurnedFace {
  face: Face;
  turns: QuarterTurns;
}

/**
 * Finds the faces and the orientation that shows them upright (see the module comment). The faces
 * answered are those the detector found at that turn.
 */
export async function detectFacesAnyOrientation(
  runtime: ModelRuntime,
  image: Image,
  options: DetectOptions = {},
): Promise<OrientedFaces> {
  const upright = await detectFaces(runtime, image, options);
  if (upright.some((f) => f.score >= SURE_UPRIGHT_SCORE)) return { faces: upright, turns: 0, runs: 1 };
  const found: TurnedFace[] = upright.map((face) => ({ face, turns: 0 }));
  for (const turns of OTHER_TURNS) {
    for (const f of await detectFaces(runtime, rotateImage(image, turns), options)) {
      found.push({ face: faceFromTurned(f, turns, image.width, image.height), turns });
    }
  }
  const turns = chooseTurn(found);
  return { faces: found.filter((f) => f.turns === turns).map((f) => f.face), turns, runs: 1 + OTHER_TURNS.length };
}

/**
 * The turn that shows the picture's faces upright. Detections of one face at several turns are
 * grouped (SAME_FACE_OVERLAP); a group's best-scoring detection names the turn that face is upright
 * in. A group votes for that turn when the upright pass found its face too (a turn may find an upright
 * detection better: it was on its side), or, found only on turned copies, when it scores at least
 * MIN_TURNED_SCORE and TURN_MARGIN over the best upright face. The turn with most votes wins (ties:
 * the higher summed score); with no vote, the picture stays as given.
 *
 * Known miss: weak real faces lose to stronger noise. The jockey fixture (a 30 px face at 0.73–0.77)
 * turned 90° or 270° at its own 640 px is read at the turn where the horse's head and legs, upside
 * down, score 0.78–0.81 as two faces; at 1280 px the jockey scores 0.82 and wins.
 */
export function chooseTurn(found: readonly TurnedFace[]): QuarterTurns {
  const groups: { best: TurnedFace; hasUpright: boolean }[] = [];
  for (const f of [...found].sort((a, b) => b.face.score - a.face.score)) {
    const group = groups.find((g) => overlapOfSmaller(g.best.face.box, f.face.box) >= SAME_FACE_OVERLAP);
    if (group) group.hasUpright ||= f.turns === 0;
    else groups.push({ best: f, hasUpright: f.turns === 0 });
  }
  const bestUpright = Math.max(0, ...found.filter((f) => f.turns === 0).map((f) => f.face.score));
  const minTurned = Math.max(MIN_TURNED_SCORE, bestUpright + TURN_MARGIN);
  const votes = new Map<QuarterTurns, { count: number; score: number }>();
  for (const { best, hasUpright } of groups) {
    if (!hasUpright && best.face.score < minTurned) continue;
    const v = votes.get(best.turns) ?? { count: 0, score: 0 };
    v.count++;
    v.score += best.face.score;
    votes.set(best.turns, v);
  }
  let chosen: QuarterTurns = 0;
  let top = { count: 0, score: 0 };
  for (const [turns, v] of votes) {
    if (v.count > top.count || (v.count === top.count && v.score > top.score)) {
      chosen = turns;
      top = v;
    }
  }
  return chosen;
}

/** `image` turned clockwise by `turns` quarter turns (a new image; the same one for 0). */
export function rotateImage(image: Image, turns: QuarterTurns): Image {
  if (turns === 0) return image;
  const { width: w, height: h, data: src } = image;
  const ow = turns === 2 ? w : h;
  const oh = turns === 2 ? h : w;
  const out = new Float32Array(src.length);
  // Walk the output and read the source pixel it shows (integer form of `pointToOriginal`).
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let sx: number;
      let sy: number;
      if (turns === 1) {
        sx = y;
        sy = h - 1 - x;
      } else if (turns === 2) {
        sx = w - 1 - x;
        sy = h - 1 - y;
      } else {
        sx = w - 1 - y;
        sy = x;
      }
      const i = (sy * w + sx) * 3;
      const o = (y * ow + x) * 3;
      out[o] = src[i];
      out[o + 1] = src[i + 1];
      out[o + 2] = src[i + 2];
    }
  }
  return { width: ow, height: oh, data: out };
}

/**
 * A point of the picture turned clockwise by `turns`, in the original picture (`width` x `height`)'s
 * continuous pixel coordinates (pixel i spans [i, i + 1), as the detector's output does).
 */
export function pointToOriginal([x, y]: Point, turns: QuarterTurns, width: number, height: number): Point {
  switch (turns) {
    case 0:
      return [x, y];
    case 1:
      return [y, height - x];
    case 2:
      return [width - x, height - y];
    case 3:
      return [width - y, x];
  }
}

/** The inverse of `pointToOriginal`: a point of the original in the picture turned by `turns`. */
export function pointToTurned([x, y]: Point, turns: QuarterTurns, width: number, height: number): Point {
  switch (turns) {
    case 0:
      return [x, y];
    case 1:
      return [height - y, x];
    case 2:
      return [width - x, height - y];
    case 3:
      return [y, width - x];
  }
}

/** An axis-aligned box of the turned picture as a box of the original (a quarter turn keeps it axis-aligned). */
export function rectToOriginal(rect: Rect, turns: QuarterTurns, width: number, height: number): Rect {
  const a = pointToOriginal([rect.x, rect.y], turns, width, height);
  const b = pointToOriginal([rect.x + rect.width, rect.y + rect.height], turns, width, height);
  const x = Math.min(a[0], b[0]);
  const y = Math.min(a[1], b[1]);
  return { x, y, width: Math.abs(a[0] - b[0]), height: Math.abs(a[1] - b[1]) };
}

/** A face found on the picture turned by `turns`, in the original picture's frame. */
export function faceFromTurned(face: Face, turns: QuarterTurns, width: number, height: number): Face {
  if (turns === 0) return face;
  return {
    score: face.score,
    box: rectToOriginal(face.box, turns, width, height),
    landmarks: face.landmarks.map((p) => pointToOriginal(p, turns, width, height)) as Face['landmarks'],
  };
}

/** The share of the smaller box's area that lies inside the other box. */
export function overlapOfSmaller(a: Rect, b: Rect): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const smaller = Math.min(a.width * a.height, b.width * b.height);
  return smaller > 0 ? (w * h) / smaller : 0;
}
