/**
 * Looks that need no model: the photo itself is the scene and a filter makes the style. They run in
 * the grade stage (grade.ts) on float RGB; sizes are for a 1024 px long side and scale with the
 * picture. Nothing in them flickers in a clip: grain and the halftone screen
 * depend on the pixel position only, and the colours papercut and comic pick are kept in a
 * `LookMemory` from the clip's first frame.
 *
 * - `film` (nostalgic): faded film: lifted teal-ish blacks, warm cream highlights, a soft vignette and
 *   fine grain, strongest in the mid-tones.
 * - `papercut`: a few flat colour layers stacked by brightness (brightest on top) with smooth cut
 *   edges, each casting a soft shadow down-right onto the layers below, on a faint paper texture.
 * - `comic`: flat colours brightened toward the paper, ink dots on a 45° screen sized by the picture's
 *   shading, and bold ink lines.
 */
import { clamp255, fromYCbCr, toYCbCr } from './color.ts';
import { boxBlur, gaussianBlur, smoothPreservingEdges } from './filters.ts';
import { nearestColour, paletteOf } from './palette.ts';
import { bilinearAxis, luma, resizeChannels } from './image.ts';

export interface FilmSpec {
  /** Lifted black level, 0..1 of the range (the faded look). */
  fade: number;
  /** Warm highlights and teal shadows, 0..1. */
  warmth: number;
  /** Grain: standard deviation at mid-grey, in 0..255 units. */
  grain: number;
  /** Corner darkening, 0..1. */
  vignette: number;
}

export interface PapercutSpec {
  /** Colour layers (4–6), stacked by brightness. */
  layers: number;
  /** Window of the majority vote that gives each pixel its sheet (px at 1024): rounder cuts, no specks. */
  smoothness: number;
  /** Shadow offset down-right, as a share of the short side (0.005–0.01). */
  shadowOffset: number;
  /** Darkness of a shadow, 0..1. */
  shadow: number;
  /** Pixels this much darker than their surroundings (0..255) are cut to a deeper sheet. */
  detail: number;
  /** Paper texture strength (relative brightness change), 0..0.1. */
  texture: number;
}

export interface ComicSpec {
  /** Edge-preserving smoothing: radius (px at 1024) and eps (0..255 units squared). */
  smooth: number;
  eps: number;
  /**
   * Ink lines from a difference of Gaussians: `width` (px at 1024) the narrow blur, `threshold` how
   * much darker than the surroundings (0..255) a line starts, `softness` over how much it turns solid.
   */
  lines: { strength: number; width: number; threshold: number; softness: number };
  /** Flat colours the picture is reduced to. */
  colours: number;
  /** Chroma multiplier of the flat colours. */
  saturation: number;
  /** Distance between dot centres (px at 1024). */
  pitch: number;
  /** Darkness (0..1) where dots start, and where they merge into solid ink. */
  from: number;
  to: number;
  /** How far the flat colours are brightened toward paper white, 0..1 (the dots carry the shading). */
  lift: number;
  /** Ink colour of dots and lines, RGB 0..255. */
  ink: readonly [number, number, number];
}

/** What a look keeps from one frame of a clip to the next (one per clip). */
export class LookMemory {
  /** Papercut's sheets, from the first frame. */
  papercut?: LayerPalette;
  /** Comic's flat colour of every colour bin, from the first frame. */
  comic?: Float32Array;
}

/** Papercut's colours, darkest first: k-means centres (YCbCr) to match pixels, RGB sheets to draw. */
export interface LayerPalette {
  centres: Float64Array;
  colours: Float32Array;
}

/** Chroma weight of papercut's colour matching: hue tells regions apart before brightness does. */
const PAPER_CHROMA_WEIGHT = 10;

/** Faded film, in place. */
export function film(data: Float32Array, width: number, height: number, spec: FilmSpec, unit: number): void {
  const curves = [0, 1, 2].map((c) => filmCurve(c, spec));
  const [curveR, curveG, curveB] = curves;
  const grain = grainTile(unit);
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const ix = cx > 0 ? 1 / cx : 0;
  const iy = cy > 0 ? 1 / cy : 0;
  const last = LUT_SIZE - 1;
  const scale = last / 255;
  for (let y = 0, p = 0; y < height; y++) {
    const ny = (y - cy) * iy;
    const grainRow = (y & GRAIN_MASK) << GRAIN_BITS;
    for (let x = 0; x < width; x++, p++) {
      const i = p * 3;
      // Elliptical vignette: 0 at the centre, 1 in the corners, applied before the curve so corners
      // fall to the faded black, not to black.
      const nx = (x - cx) * ix;
      const d = (nx * nx + ny * ny) * 0.5;
      const v = 1 - spec.vignette * d * Math.sqrt(d);
      const r = curveR[Math.min(last, Math.max(0, Math.round(data[i] * v * scale)))];
      const g = curveG[Math.min(last, Math.max(0, Math.round(data[i + 1] * v * scale)))];
      const b = curveB[Math.min(last, Math.max(0, Math.round(data[i + 2] * v * scale)))];
      // Grain strongest in the mid-tones, as on film.
      const l = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
      const n = grain[grainRow | (x & GRAIN_MASK)] * spec.grain * (0.4 + 2.4 * l * (1 - l));
      data[i] = clamp255(r + n);
      data[i + 1] = clamp255(g + n);
      data[i + 2] = clamp255(b + n);
    }
  }
}

const LUT_SIZE = 1024;

/** One channel's film curve: a mild S, lifted and tinted blacks, warm rolled-off whites. */
function filmCurve(channel: number, spec: FilmSpec): Float32Array {
  const w = spec.warmth;
  const black = spec.fade * 255 * [0.8, 1, 1.08][channel];
  const white = 255 * [0.985, 1 - 0.05 * w, 1 - 0.14 * w][channel];
  const gamma = [1 - 0.08 * w, 1 - 0.01 * w, 1 + 0.1 * w][channel];
  const lut = new Float32Array(LUT_SIZE);
  for (let i = 0; i < LUT_SIZE; i++) {
    const x = Math.pow(i / (LUT_SIZE - 1), gamma);
    const s = x + 0.3 * (x * x * (3 - 2 * x) - x);
    lut[i] = black + (white - black) * s;
  }
  return lut;
}

/** Side of the grain tile (a power of two): the grain repeats every GRAIN_TILE px, unseen at that size. */
const GRAIN_BITS = 9;
const GRAIN_TILE = 1 << GRAIN_BITS;
const GRAIN_MASK = GRAIN_TILE - 1;
const grainTiles = new Map<number, Float32Array>();

/**
 * Film grain with unit standard deviation: white noise hashed from the position, softened by
 * wrap-around [1 2 1] passes to grains of about a pixel at 1024 px (larger on larger pictures), as a
 * tile read at (x & GRAIN_MASK, y & GRAIN_MASK). It depends on the position only, never on a frame.
 */
function grainTile(unit: number): Float32Array {
  // n passes of [1 2 1] blur with sigma² = n/2.
  const passes = Math.min(16, Math.max(1, Math.round(2 * (0.45 * unit) ** 2)));
  const cached = grainTiles.get(passes);
  if (cached) return cached;
  let tile = new Float32Array(GRAIN_TILE * GRAIN_TILE);
  for (let y = 0; y < GRAIN_TILE; y++) for (let x = 0; x < GRAIN_TILE; x++) tile[(y << GRAIN_BITS) | x] = hashNoise(x, y);
  const tmp = new Float32Array(tile.length);
  for (let pass = 0; pass < passes; pass++) {
    for (let y = 0; y < GRAIN_TILE; y++) {
      const row = y << GRAIN_BITS;
      for (let x = 0; x < GRAIN_TILE; x++) {
        tmp[row | x] = 0.25 * tile[row | ((x - 1) & GRAIN_MASK)] + 0.5 * tile[row | x] + 0.25 * tile[row | ((x + 1) & GRAIN_MASK)];
      }
    }
    for (let y = 0; y < GRAIN_TILE; y++) {
      const up = ((y - 1) & GRAIN_MASK) << GRAIN_BITS;
      const row = y << GRAIN_BITS;
      const down = ((y + 1) & GRAIN_MASK) << GRAIN_BITS;
      for (let x = 0; x < GRAIN_TILE; x++) tile[row | x] = 0.25 * tmp[up | x] + 0.5 * tmp[row | x] + 0.25 * tmp[down | x];
    }
  }
  let sq = 0;
  for (let p = 0; p < tile.length; p++) sq += tile[p] * tile[p];
  const k = 1 / Math.sqrt(sq / tile.length);
  tile = tile.map((v) => v * k);
  grainTiles.set(passes, tile);
  return tile;
}

/** Uniform noise in [-1, 1] from an integer position (a fixed hash, no state). */
function hashNoise(x: number, y: number): number {
  let h = Math.imul(x, 374761393) ^ Math.imul(y, 668265263);
  h = Math.imul(h ^ (h >>> 13), 1274126177);
  h ^= h >>> 16;
  return (h & 0xffff) / 32767.5 - 1;
}

/** Papercut and comic work out their regions at half size on pictures of 400 px and more. */
function workingCopy(rgb: Float32Array, width: number, height: number): { sub: number; w: number; h: number; reduced: Float32Array } {
  const sub = Math.min(width, height) >= 400 ? 2 : 1;
  const w = Math.max(1, Math.round(width / sub));
  const h = Math.max(1, Math.round(height / sub));
  return { sub, w, h, reduced: sub > 1 ? resizeChannels(rgb, width, height, 3, w, h) : rgb };
}

/**
 * Layered paper. Each pixel takes the nearest palette colour; a majority vote over a soft window
 * (blurred indicator of each colour, the largest wins) makes smooth cuts with no specks, blended with
 * the runner-up over about one output pixel at the edges. Sheets stack by brightness (brightest on
 * top): a sheet's rank is its height, and the heights moved down-right and blurred, where they rise
 * above a pixel's own, are the soft shadow the sheets over it cast; a sheet's top-left edges catch a
 * thin light rim. Votes and shadows are worked out at half size (they are smooth) and applied at full
 * size, with a fine paper grain.
 */
export function papercut(
  rgb: Float32Array,
  width: number,
  height: number,
  spec: PapercutSpec,
  unit: number,
  memory?: LookMemory,
): Float32Array {
  const { sub, w, h, reduced } = workingCopy(rgb, width, height);
  // Edge-preserving smoothing first, so sheets follow shapes rather than texture.
  const small = toYCbCr(smoothPreservingEdges(reduced, w, h, Math.max(1, Math.round((8 * unit) / sub)), 300));
  const { centres, colours: palette } = memory?.papercut ?? layerPalette(small, spec.layers);
  if (memory) memory.papercut ??= { centres, colours: palette };
  const k = palette.length / 3;

  // Votes: one channel per colour (rank), 1 where the pixel is nearest to it, blurred.
  const n = w * h;
  const votes = new Float32Array(n * k);
  // Small dark details (eyes, brows, lips) are cut into a darker sheet, so faces keep their features.
  const luma = new Float32Array(n);
  for (let p = 0; p < n; p++) luma[p] = small[p * 3];
  const local = boxBlur(luma, w, h, Math.max(2, Math.round((4 * unit) / sub)));
  for (let p = 0, i = 0; p < n; p++, i += 3) {
    const rank = nearestColour(centres, k, small[i], small[i + 1], small[i + 2], PAPER_CHROMA_WEIGHT);
    // A detail takes the nearest of the darker sheets, and its vote counts more, so a thin one
    // outlasts the majority vote.
    if (rank > 0 && local[p] - luma[p] > spec.detail) {
      votes[p * k + nearestColour(centres, rank, small[i], small[i + 1], small[i + 2], PAPER_CHROMA_WEIGHT)] = 2.5;
    } else {
      votes[p * k + rank] = 1;
    }
  }
  const sigma = Math.max(0.8, (spec.smoothness * unit) / sub);
  const soft = gaussianBlur(votes, w, h, sigma, k);

  // The winning rank at half size, for the shadows and rims; `pure`: the rank where no blending is
  // needed (the margin over the runner-up is past the blend ramp), else NONE.
  // Blend width: the vote margin changes by about 2/(2.5·sigma) per pixel across a straight edge.
  const gain = 1.25 * sigma * sub;
  const rank = new Uint8Array(n);
  const pure = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    const o = p * k;
    const best = winner(soft, o, k);
    let second = -Infinity;
    for (let c = 0; c < k; c++) if (c !== best && soft[o + c] > second) second = soft[o + c];
    rank[p] = best;
    pure[p] = (soft[o + best] - second) * gain >= 0.5 ? best : NONE;
  }
  const offset = (spec.shadowOffset * Math.min(width, height)) / sub;
  const shift = Math.max(1, Math.round(offset));
  // Heights (ranks) moved down-right by `shift`: blurred, and above a pixel's own height, they are the
  // shadow of the sheets over it (deeper for a taller step). Top-left edges of a sheet (the pixel
  // up-left is lower) catch a thin light rim.
  const cast = new Float32Array(n);
  const rim = new Float32Array(n);
  for (let y = 0; y < h; y++) {
    const sy = Math.max(0, y - shift) * w;
    const uy = Math.max(0, y - 1) * w;
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      cast[p] = rank[sy + Math.max(0, x - shift)];
      if (rank[uy + Math.max(0, x - 1)] < rank[p]) rim[p] = 1;
    }
  }
  const shadows = gaussianBlur(cast, w, h, Math.max(0.8, offset * 0.7));
  const rims = gaussianBlur(rim, w, h, 0.6);
  const light = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    const depth = Math.min(1, Math.max(0, shadows[p] - rank[p]) * 0.75);
    light[p] = 1 - spec.shadow * depth + 0.12 * rims[p];
  }

  // Full size: bilinear from the half-size planes; the votes are read only where sheets meet.
  const paper = grainTile(unit);
  const out = new Float32Array(width * height * 3);
  const cols = bilinearAxis(w, width, 1);
  const rows = bilinearAxis(h, height, 1);
  for (let y = 0, p = 0; y < height; y++) {
    const r0 = rows.i0[y] * w;
    const r1 = rows.i1[y] * w;
    const fy = rows.frac[y];
    const paperRow = (y & GRAIN_MASK) << GRAIN_BITS;
    for (let x = 0; x < width; x++, p++) {
      const a = r0 + cols.i0[x];
      const b = r0 + cols.i1[x];
      const c = r1 + cols.i0[x];
      const d = r1 + cols.i1[x];
      const fx = cols.frac[x];
      const wa = (1 - fx) * (1 - fy);
      const wb = fx * (1 - fy);
      const wc = (1 - fx) * fy;
      const wd = fx * fy;
      let r: number;
      let g: number;
      let bl: number;
      const same = pure[a];
      if (same !== NONE && pure[b] === same && pure[c] === same && pure[d] === same) {
        r = palette[same * 3];
        g = palette[same * 3 + 1];
        bl = palette[same * 3 + 2];
      } else {
        // Where sheets meet: the interpolated votes' winner, blended with the runner-up.
        let best = 0;
        let bestV = -Infinity;
        let second = 0;
        let secondV = -Infinity;
        for (let q = 0; q < k; q++) {
          const v = soft[a * k + q] * wa + soft[b * k + q] * wb + soft[c * k + q] * wc + soft[d * k + q] * wd;
          if (v > bestV) {
            second = best;
            secondV = bestV;
            best = q;
            bestV = v;
          } else if (v > secondV) {
            second = q;
            secondV = v;
          }
        }
        const t = Math.max(0, 0.5 - (bestV - secondV) * gain);
        r = palette[best * 3] + (palette[second * 3] - palette[best * 3]) * t;
        g = palette[best * 3 + 1] + (palette[second * 3 + 1] - palette[best * 3 + 1]) * t;
        bl = palette[best * 3 + 2] + (palette[second * 3 + 2] - palette[best * 3 + 2]) * t;
      }
      const lit = (light[a] * wa + light[b] * wb + light[c] * wc + light[d] * wd) * (1 + spec.texture * paper[paperRow | (x & GRAIN_MASK)]);
      const i = p * 3;
      out[i] = clamp255(r * lit);
      out[i + 1] = clamp255(g * lit);
      out[i + 2] = clamp255(bl * lit);
    }
  }
  return out;
}

const NONE = 255;

/** Index of the largest of `k` values from `offset`. */
function winner(values: Float32Array, offset: number, k: number): number {
  let best = 0;
  for (let c = 1; c < k; c++) if (values[offset + c] > values[offset + best]) best = c;
  return best;
}

/**
 * Layer colours (RGB, darkest first) from YCbCr pixels: a k-means palette made more vivid, its
 * brightness pulled halfway toward even steps so neighbouring sheets stand apart.
 */
function layerPalette(ycc: Float32Array, layers: number): LayerPalette {
  const found = paletteOf(ycc, layers, PAPER_CHROMA_WEIGHT);
  const k = found.length / 3;
  const order = [...Array(k).keys()].sort((a, b) => found[a * 3] - found[b * 3]);
  const centres = new Float64Array(k * 3);
  const colours = new Float32Array(k * 3);
  order.forEach((c, j) => {
    centres.set(found.subarray(c * 3, c * 3 + 3), j * 3);
    const even = 40 + (195 * j) / (k - 1);
    colours[j * 3] = 0.5 * found[c * 3] + 0.5 * even;
    colours[j * 3 + 1] = found[c * 3 + 1] * 1.3;
    colours[j * 3 + 2] = found[c * 3 + 2] * 1.3;
  });
  return { centres, colours: fromYCbCr(colours) };
}

/**
 * Comic print. Edge-preserving smoothing and the ink lines (Canny) are worked out at half size; at
 * full size each pixel takes its flat colour (the nearest of a k-means palette, lifted toward paper
 * white and made more vivid: the dots carry the shading), then ink dots on a 45° screen sized by the
 * picture's shading, then the lines. The screen's lattice steps are whole pixels, (a, a) and (−a, a),
 * so it stays put whatever moves in the picture. Dots use the cosine spot function: round dots in the
 * light, a checkerboard at half, white holes in the dark, anti-aliased by the spot function's own
 * gradient.
 */
export function comic(
  rgb: Float32Array,
  width: number,
  height: number,
  spec: ComicSpec,
  unit: number,
  memory?: LookMemory,
): Float32Array {
  const { sub, w, h, reduced } = workingCopy(rgb, width, height);
  const smooth = smoothPreservingEdges(reduced, w, h, Math.max(1, Math.round((spec.smooth * unit) / sub)), spec.eps);
  const shade = luma({ width: w, height: h, data: smooth });
  // Ink lines: difference of Gaussians, dark where a pixel is darker than its wider surroundings
  // (the dark side of every edge, and thin dark details). It changes smoothly with the picture, so
  // lines do not flicker in a clip as thresholded edges would.
  const sigma = Math.max(0.7, (spec.lines.width * unit) / sub);
  const narrow = gaussianBlur(shade, w, h, sigma);
  const wide = gaussianBlur(shade, w, h, sigma * 1.6);
  const lines = new Float32Array(w * h);
  const soft = 1 / Math.max(1e-3, spec.lines.softness);
  for (let p = 0; p < lines.length; p++) lines[p] = Math.min(1, Math.max(0, (wide[p] - narrow[p] - spec.lines.threshold) * soft));

  const a = halftoneStep(spec.pitch, unit);
  const tone = gaussianBlur(shade, w, h, (a * Math.SQRT2 * 0.35) / sub);
  const up = (plane: Float32Array, channels: number) => (sub > 1 ? resizeChannels(plane, w, h, channels, width, height) : plane);
  const colour = up(smooth, 3);
  const toneFull = up(tone, 1);
  const linesFull = up(lines, 1);
  const flat = memory?.comic ?? flatPalette(colour, spec);
  if (memory) memory.comic ??= flat;
  const out = halftone(colour, toneFull, width, height, spec, a, flat);
  const [inkR, inkG, inkB] = spec.ink;
  for (let p = 0, i = 0; p < linesFull.length; p++, i += 3) {
    const t = linesFull[p] * spec.lines.strength;
    if (t <= 0) continue;
    out[i] += (inkR - out[i]) * t;
    out[i + 1] += (inkG - out[i + 1]) * t;
    out[i + 2] += (inkB - out[i + 2]) * t;
  }
  return out;
}

/**
 * Flat colours and halftone dots, in place on `colour` (the smoothed picture): `tone` is its shading
 * (luma, blurred over about a dot), `a` the lattice step, `flat` the colour of each colour bin.
 */
function halftone(
  colour: Float32Array,
  tone: Float32Array,
  width: number,
  height: number,
  spec: ComicSpec,
  a: number,
  flat: Float32Array,
): Float32Array {
  const period = 2 * a;
  const pitch = a * Math.SQRT2;
  // Spot function and the inverse of its gradient (per pixel) at each of the screen's phases (u, v).
  const spot = new Float32Array(period * period);
  const step = new Float32Array(period * period);
  const slope = Math.PI / (2 * pitch);
  for (let u = 0; u < period; u++) {
    for (let v = 0; v < period; v++) {
      const cu = Math.cos((2 * Math.PI * u) / period);
      const cv = Math.cos((2 * Math.PI * v) / period);
      const su = Math.sin((2 * Math.PI * u) / period);
      const sv = Math.sin((2 * Math.PI * v) / period);
      spot[u * period + v] = 0.5 + 0.25 * (cu + cv);
      step[u * period + v] = 1 / (slope * Math.sqrt(su * su + sv * sv) + 0.05);
    }
  }
  const [inkR, inkG, inkB] = spec.ink;
  const from = (1 - spec.from) * 255;
  const span = 1 / (255 * Math.max(1e-3, spec.to - spec.from));
  for (let y = 0, p = 0; y < height; y++) {
    let u = y % period;
    let v = y % period;
    for (let x = 0; x < width; x++, p++) {
      // u = (x + y) mod period, v = (y − x) mod period, stepped along the row.
      const phase = u * period + v;
      if (++u === period) u = 0;
      if (--v < 0) v = period - 1;
      const i = p * 3;
      const q = colourBin(colour[i], colour[i + 1], colour[i + 2]) * 3;
      let r = flat[q];
      let g = flat[q + 1];
      let b = flat[q + 2];
      // Dot coverage from the darkness: 0 at `from`, 1 at `to`.
      const c = (from - tone[p]) * span;
      if (c > 0) {
        const t = (spot[phase] - 1 + Math.min(1, c)) * step[phase] + 0.5;
        if (t > 0) {
          const ink = t >= 1 ? 1 : t;
          r += (inkR - r) * ink;
          g += (inkG - g) * ink;
          b += (inkB - b) * ink;
        }
      }
      colour[i] = r;
      colour[i + 1] = g;
      colour[i + 2] = b;
    }
  }
  return colour;
}

/** Colour bins of 8 levels per channel: 32³ bins, each mapped to its flat colour once. */
const BIN_BITS = 5;

function colourBin(r: number, g: number, b: number): number {
  const shift = 8 - BIN_BITS;
  const qr = Math.min(255, Math.max(0, r | 0)) >> shift;
  const qg = Math.min(255, Math.max(0, g | 0)) >> shift;
  const qb = Math.min(255, Math.max(0, b | 0)) >> shift;
  return (((qr << BIN_BITS) | qg) << BIN_BITS) | qb;
}

/**
 * The flat colour (RGB) of every colour bin: the nearest colour of the k-means palette of the picture
 * with its chroma scaled by `saturation`, lifted toward paper white by `lift`.
 */
function flatPalette(data: Float32Array, spec: ComicSpec): Float32Array {
  const n = data.length / 3;
  const every = Math.max(1, Math.floor(n / 20000));
  const samples = new Float32Array(Math.ceil(n / every) * 3);
  for (let p = 0, j = 0; p < n; p += every, j += 3) samples.set(data.subarray(p * 3, p * 3 + 3), j);
  // Colours are matched with their chroma already scaled, so vivid colours stay apart.
  toYCbCr(samples);
  for (let i = 0; i < samples.length; i += 3) {
    samples[i + 1] *= spec.saturation;
    samples[i + 2] *= spec.saturation;
  }
  const centres = paletteOf(samples, spec.colours);
  const k = centres.length / 3;
  const flat = new Float32Array(k * 3);
  for (let c = 0; c < k; c++) {
    flat[c * 3] = centres[c * 3] + spec.lift * (250 - centres[c * 3]);
    flat[c * 3 + 1] = centres[c * 3 + 1] * (1 + 0.3 * spec.lift);
    flat[c * 3 + 2] = centres[c * 3 + 2] * (1 + 0.3 * spec.lift);
  }
  fromYCbCr(flat);
  const size = 1 << (3 * BIN_BITS);
  const bins = new Float32Array(size * 3);
  const half = 1 << (7 - BIN_BITS);
  const centre = new Float32Array(3);
  for (let q = 0; q < size; q++) {
    centre[0] = ((q >> (2 * BIN_BITS)) << (8 - BIN_BITS)) + half;
    centre[1] = (((q >> BIN_BITS) & ((1 << BIN_BITS) - 1)) << (8 - BIN_BITS)) + half;
    centre[2] = ((q & ((1 << BIN_BITS) - 1)) << (8 - BIN_BITS)) + half;
    toYCbCr(centre);
    const c = nearestColour(centres, k, centre[0], centre[1] * spec.saturation, centre[2] * spec.saturation);
    bins.set(flat.subarray(c * 3, c * 3 + 3), q * 3);
  }
  return bins;
}

/** The halftone lattice step `a` (dots at (a, a) and (−a, a) from each other): whole pixels, ≥ 2. */
export function halftoneStep(pitch: number, unit: number): number {
  return Math.max(2, Math.round((pitch * unit) / Math.SQRT2));
}
