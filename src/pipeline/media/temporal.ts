/**
 * Temporal consistency for GIF and video: what keeps a stylized clip from flickering.
 *
 * Stylizing each frame on its own makes faces jitter (the detector's boxes move by a few pixels from
 * frame to frame, so each aligned crop is a little different) and the style shimmer (a generator
 * answers tiny input changes such as compression noise with visible changes). Four pieces fight that:
 *
 * - `FaceTracker`: faces are detected on every frame (YuNet is a few ms), joined into tracks, and each
 *   track's box and landmarks are averaged over a centred window of frames (a small lookahead, so
 *   there is no lag). A face missed for a frame or two keeps its place; a one-frame false detection
 *   never gets stylized.
 * - `FaceCropCache`: a face whose aligned crop has not changed since the face model last ran reuses
 *   that result, so a still face looks exactly the same in every frame (and costs nothing).
 * - `MaskSmoother`: the person mask is averaged with the previous frame's.
 * - `TemporalBlender`: where the input did not change between two frames, the output keeps most of
 *   its previous pixels; where it moved, the new stylized frame shows through at once.
 *
 * `FlickerMeter` measures the result: the mean absolute difference between consecutive output frames
 * divided by the same for the input frames (1 = the output changes exactly as much as the input).
 */
import type { FaceRenderer, FaceRendererMemory } from '../stylize-faces.ts';
import { intersectionOverUnion, type Face } from '../faces.ts';
import { boxBlur } from '../filters.ts';
import { luma, resizeImage, type Image, type Mask } from '../image.ts';

/** Frames of lookahead (and of look-back) used to smooth face positions. */
export const FACE_WINDOW = 2;

interface Track {
  id: number;
  /** Detections by frame index. */
  seen: Map<number, Face>;
  lastFrame: number;
  lastBox: Face['box'];
}

/**
 * Joins per-frame detections into tracks and smooths them over a window of ±FACE_WINDOW frames.
 * Call `add(frame, faces)` for frames in order; `smoothed(frame)` is final once
 * `add(frame + FACE_WINDOW)` has been called (or the clip has ended).
 */
export class FaceTracker {
  private readonly tracks: Track[] = [];
  private nextId = 1;
  /** Faces returned by `smoothed`, and the track each belongs to. */
  readonly trackOf = new WeakMap<Face, number>();

  /**
   * @param maxGap frames a track may go undetected and still continue
   * @param window frames on each side averaged into a smoothed position
   */
  constructor(
    private readonly maxGap = 4,
    private readonly window = FACE_WINDOW,
  ) {}

  add(frame: number, faces: readonly Face[]): void {
    const open = this.tracks.filter((t) => frame - t.lastFrame <= this.maxGap + 1);
    const pairs: { track: Track; face: Face; iou: number }[] = [];
    for (const track of open) {
      for (const face of faces) {
        const iou = intersectionOverUnion(track.lastBox, face.box);
        if (iou > 0.2) pairs.push({ track, face, iou });
      }
    }
    pairs.sort((a, b) => b.iou - a.iou);
    const usedTracks = new Set<Track>();
    const usedFaces = new Set<Face>();
    for (const { track, face } of pairs) {
      if (usedTracks.has(track) || usedFaces.has(face)) continue;
      usedTracks.add(track);
      usedFaces.add(face);
      this.observe(track, frame, face);
    }
    for (const face of faces) {
      if (usedFaces.has(face)) continue;
      const track: Track = { id: this.nextId++, seen: new Map(), lastFrame: frame, lastBox: face.box };
      this.tracks.push(track);
      this.observe(track, frame, face);
    }
    // Forget detections that no window will look at again.
    for (const track of this.tracks) {
      for (const f of track.seen.keys()) if (f < frame - 2 * this.window - 1) track.seen.delete(f);
    }
    for (let i = this.tracks.length - 1; i >= 0; i--) {
      if (this.tracks[i].seen.size === 0) this.tracks.splice(i, 1);
    }
  }

  /**
   * Faces at `frame`: every track seen at least twice within ±window frames (or at `frame` itself in
   * a clip of one frame), its box and landmarks a Gaussian-weighted mean of those detections.
   */
  smoothed(frame: number, totalFrames = Infinity): Face[] {
    const out: Face[] = [];
    const sigma = Math.max(1, this.window / 1.5);
    for (const track of this.tracks) {
      const near: { face: Face; w: number }[] = [];
      for (let f = frame - this.window; f <= frame + this.window; f++) {
        const face = track.seen.get(f);
        if (face) near.push({ face, w: Math.exp(-((f - frame) ** 2) / (2 * sigma * sigma)) });
      }
      const needed = Math.min(2, totalFrames);
      if (near.length < needed || near.length === 0) continue;
      const face = averageFaces(near);
      this.trackOf.set(face, track.id);
      out.push(face);
    }
    return out;
  }

  private observe(track: Track, frame: number, face: Face): void {
    track.seen.set(frame, face);
    track.lastFrame = frame;
    track.lastBox = face.box;
  }
}

function averageFaces(items: readonly { face: Face; w: number }[]): Face {
  let total = 0;
  let x = 0;
  let y = 0;
  let width = 0;
  let height = 0;
  let score = 0;
  const points = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  for (const { face, w } of items) {
    total += w;
    x += face.box.x * w;
    y += face.box.y * w;
    width += face.box.width * w;
    height += face.box.height * w;
    score += face.score * w;
    face.landmarks.forEach(([px, py], j) => {
      points[2 * j] += px * w;
      points[2 * j + 1] += py * w;
    });
  }
  return {
    box: { x: x / total, y: y / total, width: width / total, height: height / total },
    score: score / total,
    landmarks: [0, 1, 2, 3, 4].map((j) => [points[2 * j] / total, points[2 * j + 1] / total] as const) as Face['landmarks'],
  };
}

/** Side of the thumbnails compared to decide whether a face crop changed. */
const THUMB = 32;

interface CachedCrop {
  thumb: Float32Array;
  styled: Image;
  cropSize: number;
  /** Frames in a row that reused this result although the face had moved a little. */
  streak: number;
}

export interface FaceReuseOptions {
  /** Below this change (mean absolute difference of 32x32 grey thumbnails, 0..255) a face counts as still. */
  still?: number;
  /** Below this change a moving face may reuse its last result for `maxStreak` frames in a row. */
  moving?: number;
  /** 0: only still faces reuse (the face model runs on every frame where a face moves). */
  maxStreak?: number;
}

/**
 * Reuses a track's stylized face crop instead of running the face model again:
 * - always while the aligned photo crop stays within `still` of the crop the model last saw
 *   (comparing with that crop, not the previous frame's, so slow changes still add up to a rerun);
 * - for at most `maxStreak` frames in a row while it stays within `moving`: the expression then
 *   follows one frame late, but position, angle and size follow every frame (the crop is warped with
 *   the current frame's alignment) and the face model runs about half as often.
 */
export class FaceCropCache {
  private readonly crops = new Map<number, CachedCrop>();
  private readonly still: number;
  private readonly moving: number;
  private readonly maxStreak: number;
  runs = 0;
  reused = 0;

  constructor(
    private readonly trackOf: (face: Face) => number | undefined,
    options: FaceReuseOptions = {},
  ) {
    this.still = options.still ?? 2.5;
    this.moving = options.moving ?? 8;
    this.maxStreak = options.maxStreak ?? 1;
  }

  readonly stylize = async (face: Face, crop: Image, run: (crop: Image) => Promise<Image>): Promise<Image> => {
    const id = this.trackOf(face);
    const thumb = luma(resizeImage(crop, THUMB, THUMB));
    const cached = id === undefined ? undefined : this.crops.get(id);
    if (cached && cached.cropSize === crop.width) {
      const change = meanAbsDifference(cached.thumb, thumb);
      const reuse = change < this.still || (change < this.moving && cached.streak < this.maxStreak);
      if (reuse) {
        if (change >= this.still) cached.streak++;
        this.reused++;
        return cached.styled;
      }
    }
    const styled = await run(crop);
    this.runs++;
    if (id !== undefined) this.crops.set(id, { thumb, styled, cropSize: crop.width, streak: 0 });
    return styled;
  };
}

/**
 * The renderer of each face track, decided once (on the track's first face-model run, or when it is
 * first too small for the face model) and kept for the rest of the clip, so a face never switches
 * between the face model and the scene model mid-clip. Also sums each track's boxes for the result's
 * `faceBoxes` (one entry per track: its mean box and best score).
 */
export class FaceTrackRenderers implements FaceRendererMemory {
  private readonly decided = new Map<number, FaceRenderer>();
  private readonly boxes = new Map<number, { x: number; y: number; w: number; h: number; n: number; score: number }>();

  constructor(private readonly trackOf: (face: Face) => number | undefined) {}

  get(face: Face): FaceRenderer | undefined {
    const id = this.trackOf(face);
    return id === undefined ? undefined : this.decided.get(id);
  }

  set(face: Face, renderer: FaceRenderer): void {
    const id = this.trackOf(face);
    if (id !== undefined && !this.decided.has(id)) this.decided.set(id, renderer);
  }

  /** Counts a frame's faces toward their tracks' mean boxes. */
  observe(faces: readonly Face[]): void {
    for (const face of faces) {
      const id = this.trackOf(face);
      if (id === undefined) continue;
      const b = this.boxes.get(id) ?? { x: 0, y: 0, w: 0, h: 0, n: 0, score: 0 };
      b.x += face.box.x;
      b.y += face.box.y;
      b.w += face.box.width;
      b.h += face.box.height;
      b.n++;
      b.score = Math.max(b.score, face.score);
      this.boxes.set(id, b);
    }
  }

  /** One face per track, in the order the tracks appeared, with its renderer. */
  tracks(): { face: Face; renderer: FaceRenderer }[] {
    return [...this.boxes.entries()].map(([id, b]) => ({
      face: {
        box: { x: b.x / b.n, y: b.y / b.n, width: b.w / b.n, height: b.h / b.n },
        score: b.score,
        landmarks: [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0]],
      },
      renderer: this.decided.get(id) ?? 'scene',
    }));
  }
}

/** The person mask averaged with the previous frame's (weight `keep` on the previous). */
export class MaskSmoother {
  private previous?: Mask;

  constructor(private readonly keep = 0.5) {}

  apply(mask: Mask): Mask {
    const prev = this.previous;
    if (prev && prev.width === mask.width && prev.height === mask.height && this.keep > 0) {
      const data = new Float32Array(mask.data.length);
      for (let i = 0; i < data.length; i++) data[i] = mask.data[i] + (prev.data[i] - mask.data[i]) * this.keep;
      mask = { width: mask.width, height: mask.height, data };
    }
    this.previous = mask;
    return mask;
  }
}

export interface TemporalBlendOptions {
  /** 0 = off, 1 = strongest. */
  strength: number;
  /** Input change (luma levels, locally averaged) at which a pixel takes the new frame entirely. */
  motionLevels?: number;
  /** Mean input change above which a frame counts as a cut (nothing is carried over). */
  cutLevels?: number;
}

/**
 * out = a·previous_out + (1 − a)·styled, per pixel, with a = 0.9·strength·(1 − d/motion)² where d is
 * the locally averaged luma change of the input since the previous frame: still areas keep their
 * pixels (no shimmer), moving areas are drawn fresh (no ghosting), and a cut resets everything.
 */
export class TemporalBlender {
  private previousLuma?: Float32Array;
  private previousOut?: Float32Array;
  private readonly motion: number;
  private readonly cut: number;

  constructor(private readonly options: TemporalBlendOptions) {
    this.motion = options.motionLevels ?? 14;
    this.cut = options.cutLevels ?? 40;
  }

  apply(input: Image, styled: Image): Image {
    const { width, height } = input;
    const inputLuma = luma(input);
    const prevLuma = this.previousLuma;
    const prevOut = this.previousOut;
    this.previousLuma = inputLuma;
    if (!prevLuma || !prevOut || prevOut.length !== styled.data.length || this.options.strength <= 0) {
      this.previousOut = styled.data;
      return styled;
    }
    const diff = new Float32Array(inputLuma.length);
    let total = 0;
    for (let i = 0; i < diff.length; i++) {
      diff[i] = Math.abs(inputLuma[i] - prevLuma[i]);
      total += diff[i];
    }
    if (total / diff.length > this.cut) {
      this.previousOut = styled.data;
      return styled;
    }
    const local = boxBlur(diff, width, height, Math.max(1, Math.round(Math.max(width, height) / 160)));
    const out = new Float32Array(styled.data.length);
    const src = styled.data;
    const k = 0.9 * Math.min(1, this.options.strength);
    for (let p = 0, i = 0; p < local.length; p++, i += 3) {
      const t = Math.max(0, 1 - local[p] / this.motion);
      const a = k * t * t;
      out[i] = src[i] + (prevOut[i] - src[i]) * a;
      out[i + 1] = src[i + 1] + (prevOut[i + 1] - src[i + 1]) * a;
      out[i + 2] = src[i + 2] + (prevOut[i + 2] - src[i + 2]) * a;
    }
    this.previousOut = out;
    return { width, height, data: out };
  }
}

/**
 * Flicker index of a clip, fed one frame at a time: mean |output_t − output_t−1| over mean
 * |input_t − input_t−1| (all channels, 8-bit). Frames must all have the same size.
 */
export class FlickerMeter {
  private prevIn?: Uint8Array;
  private prevOut?: Uint8Array;
  private inSum = 0;
  private outSum = 0;
  private pairs = 0;

  add(input: Uint8Array, output: Uint8Array): void {
    if (this.prevIn && this.prevOut) {
      this.inSum += meanAbsDifference(input, this.prevIn);
      this.outSum += meanAbsDifference(output, this.prevOut);
      this.pairs++;
    }
    this.prevIn = input;
    this.prevOut = output;
  }

  /** Mean input change per frame pair (8-bit levels). */
  get inputChange(): number {
    return this.pairs ? this.inSum / this.pairs : 0;
  }

  get outputChange(): number {
    return this.pairs ? this.outSum / this.pairs : 0;
  }

  /** undefined with fewer than two frames or a perfectly still input. */
  get index(): number | undefined {
    if (this.pairs === 0 || this.inSum === 0) return undefined;
    return this.outSum / this.inSum;
  }
}

/** Mean absolute difference of two equally long arrays (frames, thumbnails). */
export function meanAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`frames differ in size (${a.length} vs ${b.length} bytes)`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}
