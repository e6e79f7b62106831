/**
 * The people in a photo, each with their own mask, and the ones a choice picks: what person mode,
 * erase and the person-tracking of clips share.
 *
 *   people (YOLOX boxes, numbered left to right) + person mask (MediaPipe / ISNet)
 *     → one soft mask per person (person-split.ts) → the chosen people's mask (person-choice.ts)
 *
 * When the detector finds nobody but the segmenter or the face detector clearly does (a drawn
 * character, a face filling the frame), the whole mask counts as one person, so person mode still
 * works on what it worked on before the detector existed.
 */
import { throwIfCancelled } from '../errors.ts';
import type { ModelRuntime } from '../models/runtime.ts';
import type { Face } from './faces.ts';
import type { Image, Mask, Rect } from './image.ts';
import type { Quality } from './modes.ts';
import { detectPeople, type Person } from './people.ts';
import { resolvePersonChoice, type PersonChoice } from './person-choice.ts';
import { maskCoverage, segmentPerson } from './person-mask.ts';
import { facesOwners, splitPersonMask, type PersonSplit } from './person-split.ts';

export interface PeopleInPicture {
  /** Numbered left to right; boxes in the picture's pixels. */
  people: Person[];
  /** The whole person mask. */
  mask: Mask;
  split: PersonSplit;
  /**
   * What `largest` compares: each person's mask area (share of the picture) times the detector's
   * score, so a clear person beats a dog on its hind legs of the same size (the detector's 0.7 "person").
   */
  prominence: number[];
  /** True when nobody was detected and the whole mask stands for one person. */
  fromMask: boolean;
}

/** Below this mask coverage, with no face either, a picture has nobody in it (MediaPipe sees a few % in busy scenery). */
const MIN_MASK_COVERAGE = 0.05;

export async function findPeople(
  runtime: ModelRuntime,
  photo: Image,
  options: {
    quality: Quality;
    faces?: readonly Face[];
    mask?: Mask;
    /** False: only detected people count (erase never removes what only the segmenter saw). Default true. */
    maskFallback?: boolean;
    signal?: AbortSignal;
  },
): Promise<PeopleInPicture> {
  let people = await detectPeople(runtime, photo);
  throwIfCancelled(options.signal);
  const mask = options.mask ?? (await segmentPerson(runtime, photo, options.quality));
  let fromMask = false;
  if (people.length === 0 && options.maskFallback !== false && (maskCoverage(mask) >= MIN_MASK_COVERAGE || (options.faces?.length ?? 0) > 0)) {
    const box = maskBounds(mask, options.faces ?? []);
    if (box) {
      people = [{ index: 1, box, score: 0 }];
      fromMask = true;
    }
  }
  const split = splitPersonMask(mask, people, { image: photo });
  const prominence = split.areas.map((area, i) => area * (fromMask ? 1 : people[i].score));
  return { people, mask, split, prominence, fromMask };
}

export interface ChosenPeople {
  /** Positions in `people` (0-based). */
  positions: number[];
  /** Their 1-based numbers. */
  numbers: number[];
  /** The union of their masks. */
  mask: Mask;
}

/** Applies a choice; throws NO_PERSON_FOUND / PERSON_NOT_FOUND (with the count). */
export function choosePeople(found: PeopleInPicture, choice: PersonChoice): ChosenPeople {
  const positions = resolvePersonChoice(choice, found.people.length, found.prominence);
  return {
    positions,
    numbers: positions.map((i) => found.people[i].index),
    mask: found.split.maskOf(positions),
  };
}

/** The faces that belong to the chosen people (a face nobody owns is left alone). */
export function facesOf(found: PeopleInPicture, chosen: ChosenPeople, faces: readonly Face[]): Face[] {
  const owners = facesOwners(faces, found.people, found.split);
  const picked = new Set(chosen.positions);
  return faces.filter((_, i) => picked.has(owners[i]));
}

/** Bounding box of the mask's core and the faces, or undefined when both are empty. */
function maskBounds(mask: Mask, faces: readonly Face[]): Rect | undefined {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      if (mask.data[y * mask.width + x] <= 0.5) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  for (const f of faces) {
    x0 = Math.min(x0, f.box.x);
    y0 = Math.min(y0, f.box.y);
    x1 = Math.max(x1, f.box.x + f.box.width);
    y1 = Math.max(y1, f.box.y + f.box.height);
  }
  if (!(x1 >= x0 && y1 >= y0)) return undefined;
  x0 = Math.max(0, x0);
  y0 = Math.max(0, y0);
  return { x: x0, y: y0, width: Math.min(mask.width, x1 + 1) - x0, height: Math.min(mask.height, y1 + 1) - y0 };
}
