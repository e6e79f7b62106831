/**
 * People stage: YOLOX-Nano finds one box per person, so the people in a picture can be numbered and
 * one of them picked (person mode, erase, the picker preview).
 *
 * The model takes a 416x416 letterbox: the picture scaled so its long side is 416, aspect kept,
 * padded right and bottom with grey 114, NCHW **BGR** in raw 0..255. It answers with 3549 anchors
 * (52², 26² and 13² grids at strides 8, 16 and 32, row-major), each cx, cy, w, h in grid units,
 * objectness and 80 COCO class probabilities, all already through a sigmoid. Decoding, the person
 * class (0) and NMS are ours, pure functions tested on their own (see ../shared/models/MODELS.md).
 *
 * People are numbered 1, 2, 3 … from left to right by the centre of their box: that is the order a
 * user reads a picture in, and the order the picker preview shows.
 */
import type { ModelRuntime } from '../models/runtime.ts';
import { intersectionOverUnion } from './faces.ts';
import { resizeImage, type Image, type Rect } from './image.ts';

export const YOLOX_SIZE = 416;
const YOLOX_STRIDES = [8, 16, 32] as const;
/** Values per anchor: cx, cy, w, h, objectness, 80 classes. */
const YOLOX_VALUES = 85;
const LETTERBOX_GREY = 114;

export interface Person {
  /** 1-based, left to right by box centre. */
  index: number;
  /** Box in image pixels, clipped to the image. */
  box: Rect;
  /** objectness × person probability, 0..1. */
  score: number;
}

/** A person as the CLI's --json and the bots see it: input pixels, rounded. */
export interface PersonBox {
  index: number;
  x: number;
  y: number;
  w: number;
  h: number;
  score: number;
}

export interface PeopleOptions {
  /**
   * Minimum score. Clear people score 0.6–0.95 and half-hidden ones lower; on the fixtures nothing
   * that is not a person scores above 0.3 (see test/pipeline/people.test.ts).
   */
  threshold?: number;
  /** IoU above which the weaker of two boxes is dropped (YOLOX's own setting). */
  nmsIou?: number;
  /**
   * Boxes shorter than this share of the picture's height are dropped: a speck in the distance is not
   * someone a user would pick, and its number would only clutter the preview.
   */
  minHeightShare?: number;
}

export const DEFAULT_PEOPLE_THRESHOLD = 0.35;

export async function detectPeople(runtime: ModelRuntime, image: Image, options: PeopleOptions = {}): Promise<Person[]> {
  const { tensor, scale } = letterbox(image, YOLOX_SIZE);
  const out = await runtime.run('yolox', tensor, [1, 3, YOLOX_SIZE, YOLOX_SIZE]);
  const boxes = decodeYolox(out.data, YOLOX_SIZE, options.threshold ?? DEFAULT_PEOPLE_THRESHOLD);
  const kept = nonMaxSuppressionBoxes(boxes, options.nmsIou ?? 0.45);
  const minHeight = (options.minHeightShare ?? 0.06) * image.height;
  const people = kept
    .map((b) => ({ score: b.score, box: clipBox(scaleBox(b.box, 1 / scale), image.width, image.height) }))
    .filter((b) => b.box.width > 1 && b.box.height >= minHeight);
  return numberLeftToRight(people);
}

/**
 * The 416x416 letterbox as NCHW BGR 0..255: the picture scaled by `scale` (long side → size) in the
 * top-left corner, grey 114 elsewhere.
 */
export function letterbox(image: Image, size: number): { tensor: Float32Array; scale: number } {
  const scale = size / Math.max(image.width, image.height);
  const w = Math.max(1, Math.min(size, Math.round(image.width * scale)));
  const h = Math.max(1, Math.min(size, Math.round(image.height * scale)));
  const small = resizeImage(image, w, h);
  const plane = size * size;
  const tensor = new Float32Array(plane * 3).fill(LETTERBOX_GREY);
  const src = small.data;
  for (let y = 0; y < h; y++) {
    for (let x = 0, i = y * w * 3, o = y * size; x < w; x++, i += 3, o++) {
      tensor[o] = src[i + 2]; // B
      tensor[plane + o] = src[i + 1]; // G
      tensor[2 * plane + o] = src[i]; // R
    }
  }
  return { tensor, scale };
}

/** Person boxes (letterbox pixels) from YOLOX's [anchors, 85] output, before NMS. */
export function decodeYolox(output: Float32Array, size: number, threshold: number): { box: Rect; score: number }[] {
  const found: { box: Rect; score: number }[] = [];
  let anchor = 0;
  for (const stride of YOLOX_STRIDES) {
    const grid = Math.floor(size / stride);
    for (let gy = 0; gy < grid; gy++) {
      for (let gx = 0; gx < grid; gx++, anchor++) {
        const o = anchor * YOLOX_VALUES;
        if (o + YOLOX_VALUES > output.length) return found;
        const score = output[o + 4] * output[o + 5]; // objectness × class 0 (person)
        if (!(score >= threshold)) continue;
        const cx = (output[o] + gx) * stride;
        const cy = (output[o + 1] + gy) * stride;
        const w = Math.exp(output[o + 2]) * stride;
        const h = Math.exp(output[o + 3]) * stride;
        found.push({ box: { x: cx - w / 2, y: cy - h / 2, width: w, height: h }, score });
      }
    }
  }
  return found;
}

/** Greedy NMS: keeps the best-scoring box of every group overlapping by more than `iou`. */
export function nonMaxSuppressionBoxes<T extends { box: Rect; score: number }>(boxes: readonly T[], iou: number): T[] {
  const sorted = [...boxes].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const b of sorted) if (kept.every((k) => intersectionOverUnion(k.box, b.box) <= iou)) kept.push(b);
  return kept;
}

/** Numbers people 1, 2, 3 … from left to right by box centre (ties: higher score first). */
export function numberLeftToRight(people: readonly { box: Rect; score: number }[]): Person[] {
  return [...people]
    .sort((a, b) => a.box.x + a.box.width / 2 - (b.box.x + b.box.width / 2) || b.score - a.score)
    .map((p, i) => ({ index: i + 1, box: p.box, score: p.score }));
}

/** People boxes in the input's pixels (`k` = input size / working size), rounded, for results. */
export function personBoxes(people: readonly Person[], k = 1): PersonBox[] {
  return people.map((p) => ({
    index: p.index,
    x: Math.round(p.box.x * k),
    y: Math.round(p.box.y * k),
    w: Math.round(p.box.width * k),
    h: Math.round(p.box.height * k),
    score: Math.round(p.score * 1000) / 1000,
  }));
}

/** The person with the largest box, or undefined. */
export function largestPerson(people: readonly Person[]): Person | undefined {
  let best: Person | undefined;
  for (const p of people) if (!best || p.box.width * p.box.height > best.box.width * best.box.height) best = p;
  return best;
}

export function scaleBox(box: Rect, k: number): Rect {
  return { x: box.x * k, y: box.y * k, width: box.width * k, height: box.height * k };
}

/** The part of `box` inside a width x height picture (fractional edges kept). */
export function clipBox(box: Rect, width: number, height: number): Rect {
  const x0 = Math.max(0, box.x);
  const y0 = Math.max(0, box.y);
  const x1 = Math.min(width, box.x + box.width);
  const y1 = Math.min(height, box.y + box.height);
  return { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
}
