/**
 * Draws landmark faces onto 8-bit RGB pixels, in place: the box with a "#id" tag, the 68 points as
 * small dots joined by contour lines (one colour per group), or for a face without trustworthy points
 * only its box and keypoints.
 *
 * Our own anti-aliased rasteriser: every stroke is a union of capsules (segments with round caps) whose
 * coverage is `clamp(r + 0.5 − distance)`; a polyline's coverage is the max over its segments (no dark
 * knots where segments meet), then blended once. Lines get a soft dark halo underneath so they read on
 * light and dark pictures alike. Sizes follow the picture (about 1.75 px lines at 512 px) and shrink on
 * small faces so the contours do not merge. A 320x180 frame with one face draws in well under 1 ms.
 */
import { CLOSED_GROUPS, LANDMARK_GROUPS } from './face-landmarks.ts';
import type { Point } from './faces.ts';
import type { Rect } from './image.ts';

export interface DrawnFace {
  id: number;
  kind: 'real' | 'anime';
  box: Rect;
  points: readonly Point[] | null;
  keypoints?: readonly Point[];
}

export interface RgbCanvas {
  width: number;
  height: number;
  /** RGBRGB…, 8 bit, drawn on in place. */
  data: Uint8Array;
  /** Straight (not premultiplied) alpha, one byte a pixel: drawing makes it opaque where it draws. */
  alpha?: Uint8Array;
}

type Rgb = readonly [number, number, number];

/** Contour colours by group. */
export const GROUP_COLOURS: Record<keyof typeof LANDMARK_GROUPS, Rgb> = {
  jaw: [86, 204, 242],
  rightBrow: [255, 209, 102],
  leftBrow: [255, 209, 102],
  noseBridge: [255, 159, 67],
  noseBase: [255, 159, 67],
  rightEye: [123, 237, 159],
  leftEye: [123, 237, 159],
  outerLips: [255, 107, 129],
  innerLips: [255, 168, 184],
};

/** Box colours by track id (real faces); anime faces are drawn in magenta. */
const TRACK_COLOURS: readonly Rgb[] = [
  [255, 255, 255],
  [72, 219, 251],
  [254, 202, 87],
  [29, 209, 161],
  [255, 159, 243],
  [84, 160, 255],
];
const ANIME_COLOUR: Rgb = [255, 92, 205];
const HALO: Rgb = [0, 0, 0];

export function trackColour(id: number, kind: 'real' | 'anime'): Rgb {
  return kind === 'anime' ? ANIME_COLOUR : TRACK_COLOURS[(id - 1 + TRACK_COLOURS.length) % TRACK_COLOURS.length];
}

/** Faces with a longer box side under this (px) are drawn without their inner lips. */
const SMALL_FACE = 80;

/** Line width for a picture and a face of `faceSide` px. */
export function lineWidthFor(width: number, height: number, faceSide: number): number {
  const byPicture = (1.75 * Math.max(width, height)) / 512;
  return Math.max(1, Math.min(byPicture, faceSide / 45, 6));
}

/** Dot radius for the 68 points; 0 (no dots, only the contours) on faces too small to show them apart. */
export function dotRadiusFor(lineWidth: number, faceSide: number): number {
  const r = Math.min(lineWidth * 0.75, faceSide / 110);
  return r < 0.6 ? 0 : r;
}

export function drawLandmarkFaces(canvas: RgbCanvas, faces: readonly DrawnFace[]): void {
  for (const face of faces) drawFace(canvas, face);
}

function drawFace(canvas: RgbCanvas, face: DrawnFace): void {
  const side = Math.max(face.box.width, face.box.height);
  const lw = lineWidthFor(canvas.width, canvas.height, side);
  const colour = trackColour(face.id, face.kind);
  // Clipped to the picture so every side shows (a loose anime box may reach past it).
  const x = Math.max(0.5, face.box.x);
  const y = Math.max(0.5, face.box.y);
  const w = Math.min(canvas.width - 0.5, face.box.x + face.box.width) - x;
  const h = Math.min(canvas.height - 0.5, face.box.y + face.box.height) - y;
  const box: Point[] = [
    [x, y],
    [x + w, y],
    [x + w, y + h],
    [x, y + h],
  ];
  const boxWidth = Math.max(1, lw * 0.8);
  stroke(canvas, [box], true, boxWidth / 2 + 0.9, HALO, 0.35);
  stroke(canvas, [box], true, boxWidth / 2, colour, 0.9);
  drawTag(canvas, `#${face.id}`, x, y, lw, colour);

  if (face.points) {
    // On small faces the inner lips would merge with the outer ones into a blob: outer only.
    const groups = (Object.entries(LANDMARK_GROUPS) as [keyof typeof LANDMARK_GROUPS, readonly [number, number]][]).filter(
      ([name]) => name !== 'innerLips' || side >= SMALL_FACE,
    );
    const lines = groups.map(([name, [a, b]]) => ({ name, line: face.points!.slice(a, b + 1), closed: CLOSED_GROUPS.has(name) }));
    // One halo under every contour (thinner on thin lines, so the colour still shows), then the
    // coloured lines, then the dots on top.
    const halo = Math.min(0.9, Math.max(0.5, 0.5 * lw));
    stroke(canvas, lines.filter((l) => !l.closed).map((l) => l.line), false, lw / 2 + halo, HALO, 0.4, lines.filter((l) => l.closed).map((l) => l.line));
    for (const { name, line, closed } of lines) stroke(canvas, [line], closed, lw / 2, GROUP_COLOURS[name], 0.95);
    const dot = dotRadiusFor(lw, side);
    if (dot > 0) {
      for (const { name, line } of lines) {
        for (const p of line) disc(canvas, p, dot + 0.6, HALO, 0.55);
        for (const p of line) disc(canvas, p, dot, brighten(GROUP_COLOURS[name]), 1);
      }
    }
  }
  if (face.keypoints) {
    // Five keypoints (eyes, nose tip, mouth corners): the eye line and the mouth line joined, then the dots.
    const k = face.keypoints;
    const lines = k.length >= 5 ? [[k[0], k[1]], [k[3], k[4]]] : [];
    stroke(canvas, lines, false, lw * 0.4 + 0.9, HALO, 0.35);
    stroke(canvas, lines, false, lw * 0.4, colour, 0.8);
    const r = Math.max(2, lw * 1.6);
    for (const p of k) {
      disc(canvas, p, r + 0.9, HALO, 0.6);
      disc(canvas, p, r, colour, 1);
    }
  }
}

function brighten(c: Rgb): Rgb {
  return [c[0] + (255 - c[0]) * 0.45, c[1] + (255 - c[1]) * 0.45, c[2] + (255 - c[2]) * 0.45];
}

/**
 * Strokes open `lines` (and `closedLines`, or all of `lines` when `closed`) with radius `r`: coverage
 * is the max over every segment's capsule, blended once with `colour` at `alpha`.
 */
function stroke(
  canvas: RgbCanvas,
  lines: readonly (readonly Point[])[],
  closed: boolean,
  r: number,
  colour: Rgb,
  alpha: number,
  closedLines: readonly (readonly Point[])[] = [],
): void {
  const segments: number[] = [];
  const add = (line: readonly Point[], loop: boolean) => {
    for (let i = 0; i + 1 < line.length; i++) segments.push(line[i][0], line[i][1], line[i + 1][0], line[i + 1][1]);
    if (loop && line.length > 2) segments.push(line[line.length - 1][0], line[line.length - 1][1], line[0][0], line[0][1]);
  };
  for (const line of lines) add(line, closed);
  for (const line of closedLines) add(line, true);
  if (segments.length === 0) return;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let s = 0; s < segments.length; s += 2) {
    x0 = Math.min(x0, segments[s]);
    x1 = Math.max(x1, segments[s]);
    y0 = Math.min(y0, segments[s + 1]);
    y1 = Math.max(y1, segments[s + 1]);
  }
  const pad = r + 1;
  const bx0 = Math.max(0, Math.floor(x0 - pad));
  const by0 = Math.max(0, Math.floor(y0 - pad));
  const bx1 = Math.min(canvas.width - 1, Math.ceil(x1 + pad));
  const by1 = Math.min(canvas.height - 1, Math.ceil(y1 + pad));
  if (bx0 > bx1 || by0 > by1) return;
  const bw = bx1 - bx0 + 1;
  const cover = new Float32Array(bw * (by1 - by0 + 1));
  for (let s = 0; s < segments.length; s += 4) capsule(cover, bw, bx0, by0, bx1, by1, segments[s], segments[s + 1], segments[s + 2], segments[s + 3], r);
  blend(canvas, cover, bw, bx0, by0, bx1, by1, colour, alpha);
}

/** Max-accumulates one capsule's coverage (pixel centres at +0.5) into `cover`. */
function capsule(
  cover: Float32Array,
  bw: number,
  bx0: number,
  by0: number,
  bx1: number,
  by1: number,
  ax: number,
  ay: number,
  cx: number,
  cy: number,
  r: number,
): void {
  const pad = r + 1;
  const xa = Math.max(bx0, Math.floor(Math.min(ax, cx) - pad));
  const xb = Math.min(bx1, Math.ceil(Math.max(ax, cx) + pad));
  const ya = Math.max(by0, Math.floor(Math.min(ay, cy) - pad));
  const yb = Math.min(by1, Math.ceil(Math.max(ay, cy) + pad));
  const dx = cx - ax;
  const dy = cy - ay;
  const len2 = dx * dx + dy * dy;
  for (let y = ya; y <= yb; y++) {
    const py = y + 0.5 - ay;
    for (let x = xa; x <= xb; x++) {
      const px = x + 0.5 - ax;
      const t = len2 > 0 ? Math.max(0, Math.min(1, (px * dx + py * dy) / len2)) : 0;
      const ex = px - t * dx;
      const ey = py - t * dy;
      const c = r + 0.5 - Math.sqrt(ex * ex + ey * ey);
      if (c <= 0) continue;
      const i = (y - by0) * bw + (x - bx0);
      const v = c > 1 ? 1 : c;
      if (v > cover[i]) cover[i] = v;
    }
  }
}

function blend(canvas: RgbCanvas, cover: Float32Array, bw: number, bx0: number, by0: number, bx1: number, by1: number, colour: Rgb, alpha: number): void {
  const { width } = canvas;
  for (let y = by0; y <= by1; y++) {
    for (let x = bx0; x <= bx1; x++) {
      const a = cover[(y - by0) * bw + (x - bx0)] * alpha;
      if (a > 0) over(canvas, y * width + x, colour, a);
    }
  }
}

/** Paints `colour` at coverage `a` over pixel `p` ("over" compositing when the canvas has alpha). */
function over(canvas: RgbCanvas, p: number, colour: Rgb, a: number): void {
  const { data, alpha } = canvas;
  const o = p * 3;
  if (!alpha) {
    data[o] = Math.round(data[o] + (colour[0] - data[o]) * a);
    data[o + 1] = Math.round(data[o + 1] + (colour[1] - data[o + 1]) * a);
    data[o + 2] = Math.round(data[o + 2] + (colour[2] - data[o + 2]) * a);
    return;
  }
  const below = (alpha[p] / 255) * (1 - a);
  const out = a + below;
  if (out <= 0) return;
  data[o] = Math.round((colour[0] * a + data[o] * below) / out);
  data[o + 1] = Math.round((colour[1] * a + data[o + 1] * below) / out);
  data[o + 2] = Math.round((colour[2] * a + data[o + 2] * below) / out);
  alpha[p] = Math.round(out * 255);
}

function disc(canvas: RgbCanvas, p: Point, r: number, colour: Rgb, alpha: number): void {
  const bx0 = Math.max(0, Math.floor(p[0] - r - 1));
  const by0 = Math.max(0, Math.floor(p[1] - r - 1));
  const bx1 = Math.min(canvas.width - 1, Math.ceil(p[0] + r + 1));
  const by1 = Math.min(canvas.height - 1, Math.ceil(p[1] + r + 1));
  if (bx0 > bx1 || by0 > by1) return;
  const bw = bx1 - bx0 + 1;
  const cover = new Float32Array(bw * (by1 - by0 + 1));
  capsule(cover, bw, bx0, by0, bx1, by1, p[0], p[1], p[0], p[1], r);
  blend(canvas, cover, bw, bx0, by0, bx1, by1, colour, alpha);
}

/** 5-row glyphs for the "#id" tag, one string per row, `1` = ink. */
const GLYPHS: Record<string, readonly string[]> = {
  '#': ['01010', '11111', '01010', '11111', '01010'],
  '0': ['111', '101', '101', '101', '111'],
  '1': ['010', '110', '010', '010', '111'],
  '2': ['111', '001', '111', '100', '111'],
  '3': ['111', '001', '111', '001', '111'],
  '4': ['101', '101', '111', '001', '001'],
  '5': ['111', '100', '111', '001', '111'],
  '6': ['111', '100', '111', '101', '111'],
  '7': ['111', '001', '010', '010', '010'],
  '8': ['111', '101', '111', '101', '111'],
  '9': ['111', '101', '111', '001', '111'],
};

/** A small "#id" tag: coloured plate just above the box's top-left corner (inside it when there is no room). */
function drawTag(canvas: RgbCanvas, text: string, x: number, y: number, lw: number, colour: Rgb): void {
  const cell = Math.max(1, Math.round(lw * 1.1));
  const glyphH = 5 * cell;
  const padX = cell + 1;
  const padY = cell;
  const glyphs = [...text].map((ch) => GLYPHS[ch] ?? []);
  const inkW = glyphs.reduce((sum, g) => sum + (g[0]?.length ?? 0) * cell, 0) + (glyphs.length - 1) * cell;
  const plateW = inkW + 2 * padX;
  const plateH = glyphH + 2 * padY;
  let px = Math.round(x);
  let py = Math.round(y) - plateH;
  if (py < 0) py = Math.round(y) + 1;
  px = Math.max(0, Math.min(canvas.width - plateW, px));
  py = Math.max(0, Math.min(canvas.height - plateH, py));
  fillRect(canvas, px, py, plateW, plateH, colour, 0.85);
  const ink: Rgb = luminance(colour) > 140 ? [20, 20, 28] : [255, 255, 255];
  let gx = px + padX;
  for (const rows of glyphs) {
    rows.forEach((row, ry) => {
      for (let rx = 0; rx < row.length; rx++) if (row[rx] === '1') fillRect(canvas, gx + rx * cell, py + padY + ry * cell, cell, cell, ink, 1);
    });
    gx += (rows[0]?.length ?? 0) * cell + cell;
  }
}

function fillRect(canvas: RgbCanvas, x: number, y: number, w: number, h: number, colour: Rgb, alpha: number): void {
  const { width, height } = canvas;
  for (let yy = Math.max(0, y); yy < Math.min(height, y + h); yy++) {
    for (let xx = Math.max(0, x); xx < Math.min(width, x + w); xx++) over(canvas, yy * width + xx, colour, alpha);
  }
}

function luminance(c: Rgb): number {
  return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
}
