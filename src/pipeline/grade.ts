/**
 * Grade stage: the post-processing a style asks for after its models ran: clean edge-preserving
 * smoothing, flat colour areas (k-means), cel-shading bands, saturation/tone curves, ink outlines and
 * a soft glow. Sizes are given for a 1024 px long side and scale with the image.
 *
 * Order: smooth → (ink lines found here, on the clean picture) → colour → flat colours, papercut or
 * comic → cel bands → tone → ink drawn → glow → film. The three looks (looks.ts) are whole styles of
 * their own, with no model before them.
 */
import { clamp255, fromYCbCr, toYCbCr } from './color.ts';
import { detectEdges, dilate, gaussianBlur, smoothPreservingEdges } from './filters.ts';
import { luma, type Image } from './image.ts';
import { comic, film, papercut, type ComicSpec, type FilmSpec, type LookMemory, type PapercutSpec } from './looks.ts';
import { nearestColour, paletteOf } from './palette.ts';

export interface GradeSpec {
  /** Edge-preserving smoothing: radius (px at 1024) and eps (in 0..255 units squared). */
  smooth?: { radius: number; eps: number };
  /** Flat colour areas: the picture is reduced to this many colours. */
  flatColours?: number;
  /** Cel shading: brightness in this many bands with soft steps (softness 0..0.5 of a band). */
  celBands?: { levels: number; softness: number };
  /** Chroma multiplier (1 = unchanged). */
  saturation?: number;
  /** Extra saturation for muted colours (0..1). */
  vibrance?: number;
  /** Lift (+) or lower (−) midtones, −1..1. */
  brightness?: number;
  /** S-curve strength, −1..1. */
  contrast?: number;
  /**
   * Ink contour lines (Canny on the smoothed picture). `scale`: smoothing in px at 1024 (larger =
   * only big shapes); `amount`: share of pixels that may be edge candidates (0.05–0.15).
   */
  outlines?: { strength: number; thickness: number; scale: number; amount: number };
  /** Soft glow around highlights, 0..1. */
  glow?: number;
  /** Layered paper cut-outs in place of flat colours (looks.ts). */
  papercut?: PapercutSpec;
  /** Comic print: flat colours, halftone dots sized by the shading, ink lines (looks.ts). */
  comic?: ComicSpec;
  /** Faded film: curves, vignette, grain, applied last (looks.ts). */
  film?: FilmSpec;
}

/** `memory`: what a clip's looks keep from frame to frame (their colours); none for a photo. */
export function applyGrade(image: Image, grade: GradeSpec | undefined, memory?: LookMemory): Image {
  if (!grade || Object.keys(grade).length === 0) return image;
  const { width, height } = image;
  const unit = Math.max(width, height) / 1024;
  let data = image.data;

  if (grade.smooth) {
    data = smoothPreservingEdges(data, width, height, Math.max(1, Math.round(grade.smooth.radius * unit)), grade.smooth.eps);
  } else if (!((grade.papercut || grade.comic) && grade.saturation === undefined && grade.vibrance === undefined)) {
    // The steps below work in place; papercut and comic make a new picture before any of them.
    data = data.slice();
  }
  const ink = grade.outlines ? inkLines({ width, height, data }, grade.outlines, unit) : undefined;
  if (grade.saturation !== undefined || grade.vibrance !== undefined) {
    adjustSaturation(data, grade.saturation ?? 1, grade.vibrance ?? 0);
  }
  if (grade.papercut) data = papercut(data, width, height, grade.papercut, unit, memory);
  else if (grade.comic) data = comic(data, width, height, grade.comic, unit, memory);
  else if (grade.flatColours) data = flattenColours(data, grade.flatColours);
  if (grade.celBands) celShade(data, grade.celBands.levels, grade.celBands.softness);
  if (grade.brightness || grade.contrast) toneCurve(data, grade.brightness ?? 0, grade.contrast ?? 0);
  if (ink && grade.outlines) {
    const strength = grade.outlines.strength;
    for (let p = 0, i = 0; p < ink.length; p++, i += 3) {
      const k = 1 - strength * Math.min(1, ink[p]);
      data[i] *= k;
      data[i + 1] *= k;
      data[i + 2] *= k;
    }
  }
  if (grade.glow) addGlow(data, width, height, grade.glow, unit);
  if (grade.film) film(data, width, height, grade.film, unit);
  return { width, height, data };
}

/**
 * k-means on a subsample (deterministic seeding by brightness quantiles), then every pixel takes its
 * nearest colour. Runs in YCbCr with chroma weighted up, so a small green shirt on a brown picture
 * keeps its own colour instead of merging into a brown of the same brightness.
 */
export function flattenColours(rgb: Float32Array, colours: number): Float32Array {
  const data = toYCbCr(rgb);
  const centres = paletteOf(data, colours);
  const k = centres.length / 3;
  for (let i = 0; i < data.length; i += 3) {
    const c = nearestColour(centres, k, data[i], data[i + 1], data[i + 2]);
    data[i] = centres[c * 3];
    data[i + 1] = centres[c * 3 + 1];
    data[i + 2] = centres[c * 3 + 2];
  }
  return fromYCbCr(data);
}

/** Brightness in `levels` bands with smooth steps; chroma kept (scaled with the new brightness). */
export function celShade(data: Float32Array, levels: number, softness: number): void {
  toYCbCr(data);
  const band = 255 / levels;
  const soft = Math.max(1e-3, softness);
  for (let i = 0; i < data.length; i += 3) {
    const y = data[i];
    const pos = y / band;
    const base = Math.floor(pos);
    const frac = pos - base;
    // Step centred in the band with a smoothstep of width `soft` (in band units).
    const t = Math.min(1, Math.max(0, (frac - 0.5 + soft / 2) / soft));
    const stepped = (base + t * t * (3 - 2 * t)) * band;
    const newY = Math.min(255, stepped + band * 0.25);
    const k = y > 1 ? Math.min(2, newY / y) : 1;
    data[i] = newY;
    data[i + 1] *= Math.sqrt(k);
    data[i + 2] *= Math.sqrt(k);
  }
  fromYCbCr(data);
}

export function adjustSaturation(data: Float32Array, saturation: number, vibrance: number): void {
  toYCbCr(data);
  for (let i = 0; i < data.length; i += 3) {
    const chroma = Math.sqrt(data[i + 1] * data[i + 1] + data[i + 2] * data[i + 2]) / 128; // 0..~1
    const k = saturation * (1 + vibrance * (1 - Math.min(1, chroma * 2)));
    data[i + 1] *= k;
    data[i + 2] *= k;
  }
  fromYCbCr(data);
}

/** Midtone lift (gamma) and an S-curve on each channel. */
export function toneCurve(data: Float32Array, brightness: number, contrast: number): void {
  const lut = new Float32Array(1024);
  const gamma = Math.pow(2, -brightness);
  for (let i = 0; i < lut.length; i++) {
    let x = i / (lut.length - 1);
    x = Math.pow(x, gamma);
    // Blend toward a smoothstep S-curve (or away from it for negative contrast).
    const s = x * x * (3 - 2 * x);
    x = Math.min(1, Math.max(0, x + (s - x) * contrast));
    lut[i] = x * 255;
  }
  const scale = (lut.length - 1) / 255;
  for (let i = 0; i < data.length; i++) {
    const f = clamp255(data[i]) * scale;
    const i0 = Math.floor(f);
    const i1 = Math.min(lut.length - 1, i0 + 1);
    data[i] = lut[i0] + (lut[i1] - lut[i0]) * (f - i0);
  }
}

/** Ink line coverage (0..1 per pixel): Canny contours thickened and anti-aliased. */
export function inkLines(
  image: Image,
  options: { thickness: number; scale: number; amount: number },
  unit: number,
): Float32Array {
  const { width, height } = image;
  const edges = detectEdges(luma(image), width, height, {
    sigma: Math.max(0.8, options.scale * unit),
    highQuantile: 1 - options.amount,
    lowRatio: 0.45,
    minHigh: 3,
  });
  const radius = Math.round(((options.thickness - 1) / 2) * unit);
  const thick = radius > 0 ? dilate(edges, width, height, radius) : edges;
  return gaussianBlur(thick, width, height, 0.6 * Math.max(1, unit));
}

export function addGlow(data: Float32Array, width: number, height: number, amount: number, unit: number): void {
  const bright = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) bright[i] = Math.max(0, data[i] - 170) * 1.5;
  const glow = gaussianBlur(bright, width, height, 12 * unit, 3);
  for (let i = 0; i < data.length; i++) data[i] = clamp255(data[i] + glow[i] * amount);
}
