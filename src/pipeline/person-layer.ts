/**
 * The geometry of lifting chosen people off a photo, for person mode and erase:
 *
 * - `personHole`: where the background has to be rebuilt (inpaint.ts) before a stylized person is
 *   pasted back, or instead of the person for erase. It is the chosen people's whole visible extent,
 *   soft edge included, grown by a few pixels: the segmenter's outline is never exact, and every real
 *   pixel of the person left outside the hole would show as a fringe around the stylized one (or a
 *   ghost outline after erase). Other people's bodies are cut out of the hole, so they stay real
 *   even where they touch the chosen one.
 * - `withOthersHidden`: erase's hole plus the other people near it, so the rebuilt background is made
 *   from background only. Patch synthesis copies whatever lies around a hole, and in a group that is
 *   mostly people: the fill behind an erased person would otherwise be a collage of their neighbours'
 *   faces and sleeves (which the detector then finds as a person again). Only the erased person's
 *   hole is used from the fill; the neighbours are put back as they were.
 * - `regionAround`: the part of the photo the scene model runs on for the chosen people (their mask
 *   and boxes with a margin of context), so picking one person in a group does not pay for
 *   stylizing everyone.
 */
import { boxBlur } from './filters.ts';
import { boundsWhere, type Mask, type Rect } from './image.ts';
import type { ChosenPeople, PeopleInPicture } from './find-people.ts';

/** Mask value above which a pixel shows some of the person (the soft edge included). */
const VISIBLE = 0.02;

/** Hole growth for person mode (share of the long side): just past the soft edge. */
export const PERSON_HOLE_GROWTH = 0.008;
/** Erase grows more: the hole must also swallow the person's blurred edge and the mask's misses. */
export const ERASE_HOLE_GROWTH = 0.015;

/** A 0/1 mask of the pixels to rebuild behind the chosen people. */
export function personHole(found: PeopleInPicture, chosen: ChosenPeople, growth: number): Mask {
  const { width, height } = chosen.mask;
  const n = width * height;
  const visible = new Float32Array(n);
  for (let p = 0; p < n; p++) visible[p] = chosen.mask.data[p] > VISIBLE ? 1 : 0;
  const radius = Math.max(2, Math.round(growth * Math.max(width, height)));
  // Binary dilation by a square as a box mean > 0: linear time whatever the radius.
  const grown = boxBlur(visible, width, height, radius);
  for (let p = 0; p < n; p++) grown[p] = grown[p] > 1e-4 ? 1 : 0;
  const picked = new Set(chosen.positions);
  const { owner } = found.split;
  const all = found.mask.data;
  for (let p = 0; p < n; p++) {
    // Another person's body (their core, not the chosen one's soft edge over it) stays.
    if (grown[p] > 0 && owner[p] >= 0 && !picked.has(owner[p]) && all[p] > 0.5 && chosen.mask.data[p] < 0.5) grown[p] = 0;
  }
  return { width, height, data: grown };
}

/**
 * `hole` plus every pixel of the other people (the chosen ones excluded) inside the window the
 * inpainter takes its context from (the hole's bounding box grown by its size on each side),
 * grown like the hole.
 */
export function withOthersHidden(found: PeopleInPicture, chosen: ChosenPeople, hole: Mask, growth: number): Mask {
  const { width, height } = hole;
  const n = width * height;
  const bounds = boundsWhere(width, height, (p) => hole.data[p] > 0.5);
  if (!bounds) return hole;
  const [x0, y0, x1, y1] = [bounds.x, bounds.y, bounds.x + bounds.width - 1, bounds.y + bounds.height - 1];
  const margin = Math.max(x1 - x0, y1 - y0) + 1;
  const picked = new Set(chosen.positions);
  const { owner } = found.split;
  const others = new Float32Array(n);
  let any = false;
  for (let y = Math.max(0, y0 - margin); y <= Math.min(height - 1, y1 + margin); y++) {
    for (let x = Math.max(0, x0 - margin); x <= Math.min(width - 1, x1 + margin); x++) {
      const p = y * width + x;
      if (owner[p] >= 0 && !picked.has(owner[p]) && found.mask.data[p] > VISIBLE) {
        others[p] = 1;
        any = true;
      }
    }
  }
  if (!any) return hole;
  const radius = Math.max(2, Math.round(growth * Math.max(width, height)));
  const grown = boxBlur(others, width, height, radius);
  const data = new Float32Array(n);
  for (let p = 0; p < n; p++) data[p] = grown[p] > 1e-4 || hole.data[p] > 0.5 ? 1 : 0;
  return { width, height, data };
}

/** Share of the picture a 0/1 or soft mask covers. */
export function holeShare(mask: Mask): number {
  let sum = 0;
  for (let p = 0; p < mask.data.length; p++) sum += mask.data[p];
  return sum / mask.data.length;
}

/**
 * Integer rectangle around the visible part of `mask` and the `boxes`, grown by `margin` of its
 * longer side (context for the scene model), within the picture. Undefined when both are empty.
 */
export function regionAround(mask: Mask, boxes: readonly Rect[], margin = 0.08): Rect | undefined {
  const { width, height } = mask;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (mask.data[row + x] <= VISIBLE) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  for (const b of boxes) {
    x0 = Math.min(x0, b.x);
    y0 = Math.min(y0, b.y);
    x1 = Math.max(x1, b.x + b.width - 1);
    y1 = Math.max(y1, b.y + b.height - 1);
  }
  if (!(x1 >= x0 && y1 >= y0)) return undefined;
  const grow = Math.max(16, margin * Math.max(x1 - x0, y1 - y0));
  const left = Math.max(0, Math.floor(x0 - grow));
  const top = Math.max(0, Math.floor(y0 - grow));
  const right = Math.min(width, Math.ceil(x1 + 1 + grow));
  const bottom = Math.min(height, Math.ceil(y1 + 1 + grow));
  return { x: left, y: top, width: right - left, height: bottom - top };
}
