/**
 * Emoji captions: checked against the font, laid out in one or two lines at the bottom of a square
 * canvas, drawn bold in white with a thick dark outline.
 *
 * The font is DejaVu Sans Bold from the npm package `dejavu-fonts-ttf` (Bitstream Vera licence, DejaVu
 * changes in the public domain). Glyph outlines are read by truetype.ts and turned into an SVG path
 * that sharp (librsvg) rasterises, so nothing depends on the fonts installed on the machine, and a
 * character the font lacks is refused up front instead of being drawn as a box.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import sharp from 'sharp';
import { AnimefyError } from '../errors.ts';
import { MAX_CAPTION_CHARS } from './emoji-effects.ts';
import { TrueTypeFont } from './truetype.ts';

/** The caption font's npm package and file inside it. */
export const CAPTION_FONT = { package: 'dejavu-fonts-ttf', file: 'ttf/DejaVuSans-Bold.ttf', name: 'DejaVu Sans Bold' } as const;

let font: TrueTypeFont | undefined;

/** The caption font, read once. */
export function captionFont(): TrueTypeFont {
  if (!font) {
    const pkg = createRequire(import.meta.url).resolve(`${CAPTION_FONT.package}/package.json`);
    font = new TrueTypeFont(fs.readFileSync(path.join(path.dirname(pkg), CAPTION_FONT.file)));
  }
  return font;
}

/** Zero-width characters that may follow a symbol (emoji presentation selectors). */
const IGNORED = /[\uFE0E\uFE0F]/gu;
/** Control and format characters: never drawable, always refused. */
const CONTROL = /^[\p{Cc}\p{Cf}\p{Co}\p{Cs}]$/u;
/**
 * What the font has glyphs for but truetype.ts cannot lay out (no shaping, no mark positioning, left
 * to right only): right-to-left scripts and combining marks left after NFC. Refused like missing glyphs.
 */
const NEEDS_SHAPING = /^[\p{M}\p{Script=Arabic}\p{Script=Hebrew}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}]$/u;

/**
 * The caption as it will be drawn: NFC, whitespace runs made one space, trimmed; '' for none.
 * Throws CAPTION_TOO_LONG {length, limit} over MAX_CAPTION_CHARS characters (code points), and
 * CAPTION_UNSUPPORTED {chars} for characters the font cannot draw, or not in order (each quoted, e.g. "🔥").
 */
export function checkCaption(text: string | undefined): string {
  const clean = (text ?? '').normalize('NFC').replace(IGNORED, '').replace(/\s+/gu, ' ').trim();
  const chars = Array.from(clean);
  if (chars.length > MAX_CAPTION_CHARS) {
    throw new AnimefyError('CAPTION_TOO_LONG', { length: chars.length, limit: MAX_CAPTION_CHARS });
  }
  const f = captionFont();
  const missing = [...new Set(chars.filter((c) => c !== ' ' && (CONTROL.test(c) || NEEDS_SHAPING.test(c) || !f.has(c.codePointAt(0)!))))];
  if (missing.length) {
    throw new AnimefyError('CAPTION_UNSUPPORTED', { chars: missing.map((c) => `"${c}"`).join(', ') });
  }
  return clean;
}

export interface CaptionLayer {
  /** RGBA, straight alpha, `size` wide and `height` high. */
  data: Buffer;
  width: number;
  height: number;
  /** Where its top edge goes on the canvas. */
  top: number;
}

interface Layout {
  lines: string[];
  fontSize: number;
}

/** Outline width as a share of the font size (SVG stroke: half of it lies outside the glyph). */
const STROKE = 0.24;
/** Cap height and descender depth of the font, as shares of the font size (DejaVu Sans). */
const CAP = 0.73;
const DESCENT = 0.24;
const LINE_GAP = 0.08;

/** One line, or two split at the space nearest the middle, whichever gives the larger letters. */
function layout(text: string, size: number): Layout {
  const f = captionFont();
  const maxWidth = size * 0.94;
  const fit = (lines: string[], cap: number): number => {
    const widest = Math.max(...lines.map((l) => f.measure(l, 1)));
    // The outline adds STROKE/2 on each side.
    return Math.min(cap, maxWidth / (widest + STROKE));
  };
  const one: Layout = { lines: [text], fontSize: fit([text], size * 0.22) };
  const spaces = [...text.matchAll(/ /g)].map((m) => m.index);
  if (!spaces.length) return one;
  const middle = text.length / 2;
  const cut = spaces.reduce((best, i) => (Math.abs(i - middle) < Math.abs(best - middle) ? i : best));
  const lines = [text.slice(0, cut), text.slice(cut + 1)];
  const two: Layout = { lines, fontSize: fit(lines, size * 0.14) };
  // Two lines take more of the picture: only when they make the letters clearly larger.
  return two.fontSize > one.fontSize * 1.15 ? two : one;
}

/** Height of the caption band for this text on a `size` canvas (0 for no text). */
export function captionHeight(text: string, size: number): number {
  if (!text) return 0;
  const { lines, fontSize } = layout(text, size);
  const lineHeight = fontSize * (CAP + DESCENT + LINE_GAP);
  return Math.ceil(lines.length * lineHeight + fontSize * STROKE + size * 0.03);
}

/**
 * The caption drawn for a `size` x `size` canvas: centred, its last line's descenders just above the
 * bottom margin. `text` must have passed checkCaption.
 */
export async function renderCaption(text: string, size: number): Promise<CaptionLayer> {
  const f = captionFont();
  const { lines, fontSize } = layout(text, size);
  const height = captionHeight(text, size);
  const lineHeight = fontSize * (CAP + DESCENT + LINE_GAP);
  const stroke = Math.max(2, fontSize * STROKE);
  const margin = size * 0.03;
  const paths = lines.map((line, i) => {
    const baseline = height - margin - stroke / 2 - fontSize * DESCENT - (lines.length - 1 - i) * lineHeight;
    const width = f.measure(line, fontSize);
    return f.textPath(line, fontSize, (size - width) / 2, baseline).d;
  });
  const d = paths.join('');
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${height}">` +
    `<path d="${d}" fill="#1d1b2e" stroke="#1d1b2e" stroke-width="${stroke.toFixed(2)}" stroke-linejoin="round"/>` +
    `<path d="${d}" fill="#ffffff"/></svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, top: size - info.height };
}
