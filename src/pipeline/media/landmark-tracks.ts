/**
 * Faces over time for the `landmarks` operation on GIFs and videos:
 *
 * - `LandmarkTracker` joins each frame's faces (landmarks.ts `findFaces`) into tracks with stable ids
 *   (same kind; box IoU, else centre distance and size), and answers which tracks are on a frame once
 *   LOOKAHEAD later frames are known: a face missed for up to LOOKAHEAD frames between two detections
 *   is filled in (box and keypoints interpolated), a face seen on a single frame only is dropped (a
 *   detector false alarm).
 * - `OneEuroFilter` (Casiez et al. 2012) smooths a vector over time: a low cutoff while it is still
 *   (no jitter), rising with its speed (little lag when it moves). Speeds are measured in face sizes
 *   per second, so one setting fits every face size; time is the clip's own (GIF delays).
 * - `TrackSmoother` keeps one filter per track for its box (before PFLD, so PFLD's crop moves
 *   smoothly) and one for its points.
 */
import { intersectionOverUnion, type Point } from '../faces.ts';
import type { Rect } from '../image.ts';
import type { FoundFace } from '../landmarks.ts';

/** Frames a face may go undetected between two detections and still be drawn (and frames of lookahead). */
export const LOOKAHEAD = 2;

export interface OneEuroOptions {
  /** Cutoff (Hz) while still. */
  minCutoff: number;
  /** Cutoff increase per unit of speed (face sizes per second). */
  beta: number;
  /** Cutoff (Hz) of the speed estimate. */
  dCutoff: number;
}

/** Settings for face points and boxes, in face sizes (tuned on face_clip.gif, see the landmarks clip test). */
export const POINT_FILTER: OneEuroOptions = { minCutoff: 0.5, beta: 10, dCutoff: 1 };
export const BOX_FILTER: OneEuroOptions = { minCutoff: 0.5, beta: 4, dCutoff: 1 };

export class OneEuroFilter {
  private x?: Float64Array;
  private dx?: Float64Array;
  private t?: number;

  constructor(private readonly options: OneEuroOptions) {}

  /**
   * Filters `value` at time `t` (seconds). Speeds are divided by `scale` (the face size) before they
   * raise the cutoff, so `beta` is in face sizes per second whatever the face size.
   */
  filter(value: readonly number[], t: number, scale = 1): number[] {
    const n = value.length;
    if (!this.x || !this.dx || this.t === undefined || this.x.length !== n || t <= this.t) {
      this.x = Float64Array.from(value);
      this.dx = new Float64Array(n);
      this.t = t;
      return value.slice();
    }
    const dt = t - this.t;
    this.t = t;
    const { minCutoff, beta, dCutoff } = this.options;
    const ad = smoothing(dCutoff, dt);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      this.dx[i] += ad * ((value[i] - this.x[i]) / dt - this.dx[i]);
      const a = smoothing(minCutoff + (beta * Math.abs(this.dx[i])) / scale, dt);
      this.x[i] += a * (value[i] - this.x[i]);
      out[i] = this.x[i];
    }
    return out;
  }
}

function smoothing(cutoff: number, dt: number): number {
  const tau = 1 / (2 * Math.PI * cutoff);
  return 1 / (1 + tau / dt);
}

/** A tracked face on one frame. */
export interface TrackedFace {
  id: number;
  kind: 'real' | 'anime';
  /** The detection on this frame, or the one nearest in time (keypoints and kind). */
  found: FoundFace;
  box: Rect;
  /** YuNet keypoints on this frame (interpolated across a gap); undefined for anime faces. */
  keypoints?: Point[];
  /** False when the face was filled in between two detections. */
  detected: boolean;
}

interface Track {
  id: number;
  kind: 'real' | 'anime';
  seen: Map<number, FoundFace>;
  last: FoundFace;
  lastFrame: number;
}

export class LandmarkTracker {
  private readonly tracks: Track[] = [];
  private nextId = 1;

  constructor(private readonly lookahead = LOOKAHEAD) {}

  /** Adds the faces found on `frame` (frames in order). */
  add(frame: number, faces: readonly FoundFace[]): void {
    const open = this.tracks.filter((t) => frame - t.lastFrame <= this.lookahead + 1);
    const pairs: { track: Track; face: FoundFace; cost: number }[] = [];
    for (const track of open) {
      for (const face of faces) {
        if (face.kind !== track.kind) continue;
        const cost = matchCost(track.last.box, face.box);
        if (cost < 1) pairs.push({ track, face, cost });
      }
    }
    pairs.sort((a, b) => a.cost - b.cost);
    const usedTracks = new Set<Track>();
    const usedFaces = new Set<FoundFace>();
    for (const { track, face } of pairs) {
      if (usedTracks.has(track) || usedFaces.has(face)) continue;
      usedTracks.add(track);
      usedFaces.add(face);
      track.seen.set(frame, face);
      track.last = face;
      track.lastFrame = frame;
    }
    for (const face of faces) {
      if (usedFaces.has(face)) continue;
      this.tracks.push({ id: this.nextId++, kind: face.kind, seen: new Map([[frame, face]]), last: face, lastFrame: frame });
    }
    // Forget what no later frame will look at.
    for (const track of this.tracks) for (const f of track.seen.keys()) if (f < frame - 3 * this.lookahead - 2) track.seen.delete(f);
    for (let i = this.tracks.length - 1; i >= 0; i--) if (this.tracks[i].seen.size === 0) this.tracks.splice(i, 1);
  }

  /**
   * The faces on `frame`, final once `add(frame + lookahead)` was called or the clip has ended
   * (`totalFrames` known). A track counts when seen at least twice within ±(lookahead + 1) frames
   * (or the clip is a single frame).
   */
  at(frame: number, totalFrames = Infinity): TrackedFace[] {
    const out: TrackedFace[] = [];
    const reach = this.lookahead + 1;
    for (const track of this.tracks) {
      let near = 0;
      for (let f = frame - reach; f <= frame + reach; f++) if (track.seen.has(f)) near++;
      if (near < Math.min(2, totalFrames)) continue;
      const here = track.seen.get(frame);
      if (here) {
        out.push({ id: track.id, kind: track.kind, found: here, box: here.box, keypoints: here.face && [...here.face.landmarks], detected: true });
        continue;
      }
      let before: [number, FoundFace] | undefined;
      let after: [number, FoundFace] | undefined;
      for (let d = 1; d <= reach && !(before && after); d++) {
        const b = track.seen.get(frame - d);
        const a = track.seen.get(frame + d);
        if (!before && b) before = [frame - d, b];
        if (!after && a) after = [frame + d, a];
      }
      if (!before || !after) continue;
      const t = (frame - before[0]) / (after[0] - before[0]);
      const [p, q] = [before[1], after[1]];
      out.push({
        id: track.id,
        kind: track.kind,
        found: t < 0.5 ? p : q,
        box: lerpRect(p.box, q.box, t),
        keypoints: p.face && q.face ? p.face.landmarks.map((a, j) => lerpPoint(a, q.face!.landmarks[j], t)) : undefined,
        detected: false,
      });
    }
    return out.sort((a, b) => a.id - b.id);
  }
}

/** 0 for the same box, ≥ 1 for boxes that are not the same face: 1 − IoU, or the centre distance in face sizes. */
function matchCost(a: Rect, b: Rect): number {
  const iou = intersectionOverUnion(a, b);
  if (iou > 0.25) return 1 - iou;
  const side = Math.sqrt(Math.max(1, a.width * a.height));
  const ratio = Math.sqrt((b.width * b.height) / Math.max(1, a.width * a.height));
  if (ratio < 0.6 || ratio > 1.6) return 1;
  const d = Math.hypot(a.x + a.width / 2 - (b.x + b.width / 2), a.y + a.height / 2 - (b.y + b.height / 2)) / side;
  // Centres within half a face: a fast move IoU misses.
  return d < 0.5 ? 0.75 + d / 2 : 1;
}

function lerpRect(a: Rect, b: Rect, t: number): Rect {
  return { x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t, width: a.width + (b.width - a.width) * t, height: a.height + (b.height - a.height) * t };
}

function lerpPoint(a: Point, b: Point, t: number): Point {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
}

/** One box filter and one points filter per track id. */
export class TrackSmoother {
  private readonly boxes = new Map<number, OneEuroFilter>();
  private readonly pointFilters = new Map<string, OneEuroFilter>();

  constructor(
    private readonly enabled = true,
    private readonly boxOptions = BOX_FILTER,
    private readonly pointOptions = POINT_FILTER,
  ) {}

  box(id: number, box: Rect, t: number): Rect {
    if (!this.enabled) return box;
    const filter = this.boxes.get(id) ?? new OneEuroFilter(this.boxOptions);
    this.boxes.set(id, filter);
    const [cx, cy, w, h] = filter.filter([box.x + box.width / 2, box.y + box.height / 2, box.width, box.height], t, faceSize(box));
    return { x: cx - w / 2, y: cy - h / 2, width: w, height: h };
  }

  /** Smooths one set of a track's points (`what`: its 68 points, its keypoints…), in face sizes. */
  points(what: string, id: number, points: readonly Point[], t: number, size: number): Point[] {
    if (!this.enabled) return points.slice();
    const key = `${what}:${id}`;
    const filter = this.pointFilters.get(key) ?? new OneEuroFilter(this.pointOptions);
    this.pointFilters.set(key, filter);
    const flat = filter.filter(points.flatMap((p) => [p[0], p[1]]), t, size);
    const out: Point[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
    return out;
  }
}

/** A face's size for the filters: the geometric mean of its box sides. */
export function faceSize(box: Rect): number {
  return Math.max(1, Math.sqrt(box.width * box.height));
}
