/**
 * A small TrueType reader: enough to lay out one line of text and turn it into SVG path data.
 *
 * Reads `cmap` (format 12, else 4), `head`, `hhea`, `hmtx`, `loca`, `glyf` (simple and composite
 * glyphs, quadratic outlines) and the legacy `kern` table (format 0 pairs). No shaping beyond that:
 * no ligatures, no GPOS, no right-to-left. Hinting instructions are ignored (the outlines are
 * rasterised by librsvg at the target size).
 */

export interface TextPath {
  /** SVG path data in pixels, y down, the first glyph's origin at (x, baseline). */
  d: string;
  /** Advance width of the whole line in pixels. */
  width: number;
}

interface Point {
  x: number;
  y: number;
  onCurve: boolean;
}

type Contour = Point[];

/** Component transform of a composite glyph: [a, b, c, d, dx, dy]. */
type Matrix = [number, number, number, number, number, number];

export class TrueTypeFont {
  readonly unitsPerEm: number;
  readonly ascender: number;
  readonly descender: number;
  private readonly view: DataView;
  private readonly tables = new Map<string, { offset: number; length: number }>();
  private readonly numGlyphs: number;
  private readonly numberOfHMetrics: number;
  private readonly longLoca: boolean;
  private readonly cmap: (codePoint: number) => number;
  private readonly kerning = new Map<number, number>();
  private readonly contourCache = new Map<number, Contour[]>();

  constructor(data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const v = this.view;
    const version = v.getUint32(0);
    if (version !== 0x00010000 && version !== 0x74727565) throw new Error('Not a TrueType font (glyf outlines)');
    const count = v.getUint16(4);
    for (let i = 0; i < count; i++) {
      const rec = 12 + i * 16;
      const tag = String.fromCharCode(v.getUint8(rec), v.getUint8(rec + 1), v.getUint8(rec + 2), v.getUint8(rec + 3));
      this.tables.set(tag, { offset: v.getUint32(rec + 8), length: v.getUint32(rec + 12) });
    }
    const head = this.table('head');
    this.unitsPerEm = v.getUint16(head + 18);
    this.longLoca = v.getInt16(head + 50) === 1;
    const hhea = this.table('hhea');
    this.ascender = v.getInt16(hhea + 4);
    this.descender = v.getInt16(hhea + 6);
    this.numberOfHMetrics = v.getUint16(hhea + 34);
    this.numGlyphs = v.getUint16(this.table('maxp') + 4);
    this.cmap = this.readCmap();
    this.readKern();
  }

  /** The glyph index for a code point; 0 (.notdef) when the font has none. */
  glyphIndex(codePoint: number): number {
    const g = this.cmap(codePoint);
    return g > 0 && g < this.numGlyphs ? g : 0;
  }

  /** Whether the font has a glyph for this code point. */
  has(codePoint: number): boolean {
    return this.glyphIndex(codePoint) !== 0;
  }

  /** Advance width in font units. */
  advance(glyph: number): number {
    const hmtx = this.table('hmtx');
    const i = Math.min(glyph, this.numberOfHMetrics - 1);
    return this.view.getUint16(hmtx + i * 4);
  }

  /** Kerning adjustment in font units between two glyphs (0 when none). */
  kern(left: number, right: number): number {
    return this.kerning.get(left * 65536 + right) ?? 0;
  }

  /** Width in pixels of `text` at `fontSize` px per em (with kerning). */
  measure(text: string, fontSize: number): number {
    const glyphs = Array.from(text, (c) => this.glyphIndex(c.codePointAt(0)!));
    let units = 0;
    for (let i = 0; i < glyphs.length; i++) {
      units += this.advance(glyphs[i]);
      if (i + 1 < glyphs.length) units += this.kern(glyphs[i], glyphs[i + 1]);
    }
    return (units * fontSize) / this.unitsPerEm;
  }

  /** The outline of `text` as SVG path data, starting at (x, baseline). */
  textPath(text: string, fontSize: number, x: number, baseline: number): TextPath {
    const scale = fontSize / this.unitsPerEm;
    const glyphs = Array.from(text, (c) => this.glyphIndex(c.codePointAt(0)!));
    const parts: string[] = [];
    let pen = 0;
    for (let i = 0; i < glyphs.length; i++) {
      const originX = x + pen * scale;
      for (const contour of this.contours(glyphs[i])) {
        parts.push(contourPath(contour, (p) => [originX + p.x * scale, baseline - p.y * scale]));
      }
      pen += this.advance(glyphs[i]);
      if (i + 1 < glyphs.length) pen += this.kern(glyphs[i], glyphs[i + 1]);
    }
    return { d: parts.join(''), width: pen * scale };
  }

  private table(tag: string): number {
    const t = this.tables.get(tag);
    if (!t) throw new Error(`Font has no ${tag} table`);
    return t.offset;
  }

  private readCmap(): (codePoint: number) => number {
    const v = this.view;
    const cmap = this.table('cmap');
    const count = v.getUint16(cmap + 2);
    let format4: number | undefined;
    let format12: number | undefined;
    for (let i = 0; i < count; i++) {
      const rec = cmap + 4 + i * 8;
      const platform = v.getUint16(rec);
      const encoding = v.getUint16(rec + 2);
      const sub = cmap + v.getUint32(rec + 4);
      const format = v.getUint16(sub);
      const unicode = platform === 0 || (platform === 3 && (encoding === 1 || encoding === 10));
      if (!unicode) continue;
      if (format === 12) format12 ??= sub;
      else if (format === 4) format4 ??= sub;
    }
    if (format12 !== undefined) {
      const sub = format12;
      const groups = v.getUint32(sub + 12);
      return (cp) => {
        let lo = 0;
        let hi = groups - 1;
        while (lo <= hi) {
          const mid = (lo + hi) >> 1;
          const g = sub + 16 + mid * 12;
          const start = v.getUint32(g);
          const end = v.getUint32(g + 4);
          if (cp < start) hi = mid - 1;
          else if (cp > end) lo = mid + 1;
          else return v.getUint32(g + 8) + (cp - start);
        }
        return 0;
      };
    }
    if (format4 === undefined) throw new Error('Font has no Unicode cmap');
    const sub = format4;
    const segX2 = v.getUint16(sub + 6);
    const ends = sub + 14;
    const starts = ends + segX2 + 2;
    const deltas = starts + segX2;
    const rangeOffsets = deltas + segX2;
    return (cp) => {
      if (cp > 0xffff) return 0;
      for (let i = 0; i < segX2; i += 2) {
        if (cp > v.getUint16(ends + i)) continue;
        const start = v.getUint16(starts + i);
        if (cp < start) return 0;
        const delta = v.getInt16(deltas + i);
        const rangeOffset = v.getUint16(rangeOffsets + i);
        if (rangeOffset === 0) return (cp + delta) & 0xffff;
        const g = v.getUint16(rangeOffsets + i + rangeOffset + (cp - start) * 2);
        return g === 0 ? 0 : (g + delta) & 0xffff;
      }
      return 0;
    };
  }

  private readKern(): void {
    const t = this.tables.get('kern');
    if (!t) return;
    const v = this.view;
    if (v.getUint16(t.offset) !== 0) return; // only the Microsoft version-0 layout
    const count = v.getUint16(t.offset + 2);
    let sub = t.offset + 4;
    for (let i = 0; i < count; i++) {
      const length = v.getUint16(sub + 2);
      const coverage = v.getUint16(sub + 4);
      // Format 0, horizontal, kerning values (not minimum), not cross-stream.
      if (coverage >> 8 === 0 && (coverage & 0x7) === 0x1) {
        const pairs = v.getUint16(sub + 6);
        for (let p = 0; p < pairs; p++) {
          const rec = sub + 14 + p * 6;
          this.kerning.set(v.getUint16(rec) * 65536 + v.getUint16(rec + 2), v.getInt16(rec + 4));
        }
      }
      sub += length;
    }
  }

  private glyphRange(glyph: number): { offset: number; length: number } {
    const v = this.view;
    const loca = this.table('loca');
    const glyf = this.table('glyf');
    const at = (i: number): number => (this.longLoca ? v.getUint32(loca + i * 4) : v.getUint16(loca + i * 2) * 2);
    const start = at(glyph);
    return { offset: glyf + start, length: at(glyph + 1) - start };
  }

  /** The glyph's contours in font units (composites flattened). */
  contours(glyph: number, depth = 0): Contour[] {
    const cached = this.contourCache.get(glyph);
    if (cached) return cached;
    const { offset, length } = this.glyphRange(glyph);
    let result: Contour[] = [];
    if (length > 0 && depth < 8) {
      const n = this.view.getInt16(offset);
      result = n >= 0 ? this.simpleGlyph(offset, n) : this.compositeGlyph(offset, depth);
    }
    this.contourCache.set(glyph, result);
    return result;
  }

  private simpleGlyph(offset: number, contourCount: number): Contour[] {
    const v = this.view;
    const endPts: number[] = [];
    for (let i = 0; i < contourCount; i++) endPts.push(v.getUint16(offset + 10 + i * 2));
    const pointCount = contourCount ? endPts[contourCount - 1] + 1 : 0;
    const instructionLength = v.getUint16(offset + 10 + contourCount * 2);
    let p = offset + 12 + contourCount * 2 + instructionLength;
    const flags: number[] = [];
    while (flags.length < pointCount) {
      const flag = v.getUint8(p++);
      flags.push(flag);
      if (flag & 8) {
        const repeat = v.getUint8(p++);
        for (let r = 0; r < repeat; r++) flags.push(flag);
      }
    }
    const xs = new Array<number>(pointCount);
    const ys = new Array<number>(pointCount);
    let value = 0;
    for (let i = 0; i < pointCount; i++) {
      const f = flags[i];
      if (f & 2) {
        const d = v.getUint8(p++);
        value += f & 16 ? d : -d;
      } else if (!(f & 16)) {
        value += v.getInt16(p);
        p += 2;
      }
      xs[i] = value;
    }
    value = 0;
    for (let i = 0; i < pointCount; i++) {
      const f = flags[i];
      if (f & 4) {
        const d = v.getUint8(p++);
        value += f & 32 ? d : -d;
      } else if (!(f & 32)) {
        value += v.getInt16(p);
        p += 2;
      }
      ys[i] = value;
    }
    const contours: Contour[] = [];
    let start = 0;
    for (const end of endPts) {
      const contour: Contour = [];
      for (let i = start; i <= end; i++) contour.push({ x: xs[i], y: ys[i], onCurve: (flags[i] & 1) === 1 });
      contours.push(contour);
      start = end + 1;
    }
    return contours;
  }

  private compositeGlyph(offset: number, depth: number): Contour[] {
    const v = this.view;
    const out: Contour[] = [];
    let p = offset + 10;
    let more = true;
    while (more) {
      const flags = v.getUint16(p);
      const component = v.getUint16(p + 2);
      p += 4;
      let arg1: number;
      let arg2: number;
      if (flags & 1) {
        arg1 = v.getInt16(p);
        arg2 = v.getInt16(p + 2);
        p += 4;
      } else {
        arg1 = v.getInt8(p);
        arg2 = v.getInt8(p + 1);
        p += 2;
      }
      let m: Matrix = [1, 0, 0, 1, 0, 0];
      const f2dot14 = (at: number): number => v.getInt16(at) / 16384;
      if (flags & 8) {
        const s = f2dot14(p);
        m = [s, 0, 0, s, 0, 0];
        p += 2;
      } else if (flags & 0x40) {
        m = [f2dot14(p), 0, 0, f2dot14(p + 2), 0, 0];
        p += 4;
      } else if (flags & 0x80) {
        m = [f2dot14(p), f2dot14(p + 2), f2dot14(p + 4), f2dot14(p + 6), 0, 0];
        p += 8;
      }
      // ARGS_ARE_XY_VALUES; point-matching anchors (rare) are placed at the origin.
      if (flags & 2) {
        m[4] = arg1;
        m[5] = arg2;
      }
      for (const contour of this.contours(component, depth + 1)) {
        out.push(
          contour.map((pt) => ({
            x: m[0] * pt.x + m[2] * pt.y + m[4],
            y: m[1] * pt.x + m[3] * pt.y + m[5],
            onCurve: pt.onCurve,
          })),
        );
      }
      more = (flags & 0x20) !== 0;
    }
    return out;
  }
}

/** One closed contour as SVG commands (quadratic B-splines with implied on-curve midpoints). */
function contourPath(contour: Contour, map: (p: Point) => [number, number]): string {
  const n = contour.length;
  if (n < 2) return '';
  const fmt = (xy: [number, number]): string => `${round2(xy[0])} ${round2(xy[1])}`;
  const mid = (a: Point, b: Point): Point => ({ x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, onCurve: true });
  // Start at an on-curve point (or the midpoint of the first two off-curve ones).
  let startIndex = contour.findIndex((p) => p.onCurve);
  let start: Point;
  if (startIndex < 0) {
    start = mid(contour[0], contour[1]);
    startIndex = 1;
  } else {
    start = contour[startIndex];
    startIndex += 1;
  }
  let d = `M${fmt(map(start))}`;
  let control: Point | undefined;
  for (let k = 0; k < n; k++) {
    const p = contour[(startIndex + k) % n];
    if (p.onCurve) {
      d += control ? `Q${fmt(map(control))} ${fmt(map(p))}` : `L${fmt(map(p))}`;
      control = undefined;
    } else {
      if (control) {
        const m = mid(control, p);
        d += `Q${fmt(map(control))} ${fmt(map(m))}`;
      }
      control = p;
    }
  }
  if (control) d += `Q${fmt(map(control))} ${fmt(map(start))}`;
  return `${d}Z`;
}

function round2(n: number): string {
  return (Math.round(n * 100) / 100).toString();
}
