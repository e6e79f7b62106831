/**
 * The picker picture: the photo with a box around each person and their number in a big circle, so
 * a user can answer "which one?" with a number (CLI `animefy people`, the bots' person pickers).
 *
 * Drawn as one SVG laid over the photo by sharp. The digits are our own stroked paths rather than
 * text: a server often has no fonts, and librsvg would then draw nothing (or boxes) for text.
 *
 * Sizes are chosen for phones: the preview is 1024 px on its long side (a chat app shows it about
 * 350–400 pt wide), and a circle is about 8.5% of that (about 30 pt on screen), smaller only when
 * people stand so close that their circles would overlap.
 */
import sharp from 'sharp';
import type { Rect } from './image.ts';
import type { Person } from './people.ts';

export const PREVIEW_LONG_SIDE = 1024;

/** Box and circle colours, by person (repeats after eight): distinct on photos and for colour-blind users. */
const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#0a9396', '#f032e6', '#9a6324'];

/**
 * Stroked digit outlines on a 10 x 16 cell (round caps and joins), drawn at a width of 2 units.
 * Plain, upright shapes that stay legible when small.
 */
const DIGITS: Record<string, string> = {
  '0': 'M5 1C1.6 1 0.8 4.5 0.8 8S1.6 15 5 15 9.2 11.5 9.2 8 8.4 1 5 1Z',
  '1': 'M2.2 4.2L6 1V15',
  '2': 'M0.9 4.6C0.9 2.4 2.7 1 5 1S9.2 2.4 9.2 4.8C9.2 7.8 6 10 0.8 15H9.4',
  '3': 'M1 2.6C2 1.5 3.4 1 5 1 7.4 1 8.9 2.4 8.9 4.3 8.9 6.4 7.2 7.7 4.4 7.7 7.6 7.7 9.3 9.3 9.3 11.4 9.3 13.7 7.5 15 5 15 3.3 15 1.9 14.5 0.8 13.4',
  '4': 'M7.3 15V1L0.8 10.6H9.6',
  '5': 'M8.8 1H2.4L1.6 7.4C2.6 6.5 3.8 6.1 5 6.1 7.7 6.1 9.3 7.9 9.3 10.5S7.6 15 5 15C3.2 15 1.9 14.4 0.8 13.2',
  '6': 'M8.6 2C7.7 1.3 6.6 1 5.4 1 2.3 1 0.8 3.9 0.8 8.4 0.8 12.7 2.4 15 5.2 15 7.8 15 9.3 13.1 9.3 10.5S7.8 6.1 5.3 6.1C3.3 6.1 1.7 7.2 0.9 9',
  '7': 'M0.8 1H9.3L4 15',
  '8': 'M5 7.6C2.6 7.6 1.2 6.4 1.2 4.3S2.6 1 5 1 8.8 2.2 8.8 4.3 7.4 7.6 5 7.6C2.3 7.6 0.8 9.1 0.8 11.3S2.4 15 5 15 9.2 13.5 9.2 11.3 7.7 7.6 5 7.6Z',
  '9': 'M1.4 14C2.3 14.7 3.4 15 4.6 15 7.7 15 9.2 12.1 9.2 7.6 9.2 3.3 7.6 1 4.8 1 2.2 1 0.7 2.9 0.7 5.5S2.2 9.9 4.7 9.9C6.7 9.9 8.3 8.8 9.1 7',
};

export interface PreviewPicture {
  /** 8-bit RGB, `width * height * 3` bytes. */
  rgb: Uint8Array;
  width: number;
  height: number;
}

/**
 * Draws the numbered boxes of `people` (boxes in `picture` pixels) on the picture, scaled so its
 * long side is `longSide` (default 1024). Returns 8-bit RGB at the preview's size.
 */
export async function drawPeoplePreview(picture: PreviewPicture, people: readonly Person[], longSide = PREVIEW_LONG_SIDE): Promise<PreviewPicture> {
  const k = longSide / Math.max(picture.width, picture.height);
  const width = Math.max(1, Math.round(picture.width * k));
  const height = Math.max(1, Math.round(picture.height * k));
  const boxes = people.map((p) => ({ index: p.index, box: scaleRect(p.box, k) }));
  // Resize first (its own pipeline), then lay the overlay on the resized pixels.
  const resized = await sharp(picture.rgb, { raw: { width: picture.width, height: picture.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  const rgb = await sharp(resized, { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(previewSvg(width, height, boxes)), top: 0, left: 0 }])
    .removeAlpha()
    .raw()
    .toBuffer();
  return { rgb, width, height };
}

/** Where each person's number goes: circle centre and radius, in preview pixels. */
export interface Badge {
  index: number;
  cx: number;
  cy: number;
  r: number;
}

/**
 * Places one circle per person: on the box's centre line, half way down (the chest or belly, not
 * the face, whether the box holds a whole body or head and shoulders), inside the picture; a circle that would overlap an
 * earlier one moves down until it does not (or the box ends). Circles shrink, down to 22 px radius,
 * when boxes are narrower than the standard circle.
 */
export function placeBadges(width: number, height: number, boxes: readonly { index: number; box: Rect }[]): Badge[] {
  const standard = Math.round(0.0425 * Math.max(width, height));
  const badges: Badge[] = [];
  const byArea = [...boxes].sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
  for (const { index, box } of byArea) {
    const r = Math.max(22, Math.min(standard, Math.round(box.width * 0.45)));
    const cx = clamp(box.x + box.width / 2, r + 2, width - r - 2);
    let cy = clamp(box.y + box.height / 2, r + 2, height - r - 2);
    const lowest = clamp(box.y + box.height - r, r + 2, height - r - 2);
    for (let tries = 0; tries < 20 && badges.some((b) => Math.hypot(b.cx - cx, b.cy - cy) < b.r + r + 4); tries++) {
      if (cy + r * 0.6 > lowest) break;
      cy += r * 0.6;
    }
    badges.push({ index, cx, cy, r });
  }
  return badges.sort((a, b) => a.index - b.index);
}

/** The overlay: boxes, then circles with numbers (so numbers are never hidden under a box line). */
export function previewSvg(width: number, height: number, boxes: readonly { index: number; box: Rect }[]): string {
  const line = Math.max(3, Math.round(Math.max(width, height) / 256));
  const parts: string[] = [];
  for (const { index, box } of boxes) {
    const colour = PALETTE[(index - 1) % PALETTE.length];
    const x = round1(box.x + line / 2);
    const y = round1(box.y + line / 2);
    const w = round1(Math.max(1, box.width - line));
    const h = round1(Math.max(1, box.height - line));
    // A dark hairline under the coloured line keeps it visible on a background of the same colour.
    parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="${line * 2}" fill="none" stroke="#000" stroke-opacity="0.45" stroke-width="${line + 2}"/>`);
    parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="${line * 2}" fill="none" stroke="${colour}" stroke-width="${line}"/>`);
  }
  for (const badge of placeBadges(width, height, boxes)) parts.push(badgeSvg(badge));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`;
}

function badgeSvg({ index, cx, cy, r }: Badge): string {
  const colour = PALETTE[(index - 1) % PALETTE.length];
  const text = String(index);
  // Digit cells are 10 x 16 with a 3-unit gap; the number fills about 60% of the circle's height.
  const unit = (1.2 * r) / 16 / Math.max(1, 0.75 + 0.25 * text.length);
  const textWidth = (text.length * 10 + (text.length - 1) * 3) * unit;
  const x0 = cx - textWidth / 2;
  const y0 = cy - 8 * unit;
  const digits = [...text]
    .map((d, i) => `<path transform="translate(${round1(x0 + i * 13 * unit)} ${round1(y0)}) scale(${round3(unit)})" d="${DIGITS[d]}"/>`)
    .join('');
  return (
    `<circle cx="${round1(cx)}" cy="${round1(cy)}" r="${r}" fill="${colour}" stroke="#fff" stroke-width="${Math.max(2, Math.round(r / 10))}"/>` +
    `<g fill="none" stroke="#fff" stroke-width="${round3(2.1)}" stroke-linecap="round" stroke-linejoin="round">${digits}</g>`
  );
}

function scaleRect(r: Rect, k: number): Rect {
  return { x: r.x * k, y: r.y * k, width: r.width * k, height: r.height * k };
}

function clamp(v: number, lo: number, hi: number): number {
  return lo > hi ? (lo + hi) / 2 : Math.min(hi, Math.max(lo, v));
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
