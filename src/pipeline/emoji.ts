/**
 * Animated reaction emoji made from one stylised cut-out: the frames are the same picture moved,
 * squashed, turned or recoloured (no model runs per frame), then encoded as a Telegram video sticker
 * (VP9 WebM with alpha) or a transparent GIF (Discord emoji, CLI).
 *
 * Frames are drawn in premultiplied float RGBA with bilinear sampling (no dark fringes at the
 * edges), supersampled where the art is shrunk hard (the edge-on moments of the spin). Each effect
 * is a loop: its pose at t = 1 equals the one at t = 0. The motion of all frames is measured before
 * drawing and the art scaled so that every frame stays inside the canvas (and above the caption).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { AnimefyError, formatBytes, throwIfCancelled } from '../errors.ts';
import { captionHeight, checkCaption, renderCaption } from './caption.ts';
import type { EmojiEffect } from './emoji-effects.ts';
import { hasEncoder, passthroughArgs, runFfmpeg, type FfmpegPaths } from './media/ffmpeg.ts';
import { withTempDir } from './media/temp.ts';
import type { Cutout } from './sticker.ts';

export type { Cutout };

export type EmojiFormat = 'webm' | 'gif';

/** Canvas size and frame rate for each format: Telegram video stickers, Discord emoji. */
export const EMOJI_TARGETS: Readonly<Record<EmojiFormat, { size: number; fps: number }>> = {
  webm: { size: 512, fps: 30 },
  // 20 fps: a 50 ms delay is a whole number of GIF centiseconds, and a 2 s loop stays near 256 KB.
  gif: { size: 128, fps: 20 },
};

/** Telegram's limit for video stickers, and Discord's for emoji (the same as sticker.ts's). */
export const EMOJI_MAX_BYTES = 256 * 1024;
export const EMOJI_MAX_SECONDS = 3;
export const EMOJI_MAX_FPS = 30;

export interface EmojiFrameOptions {
  effect: EmojiEffect;
  /** Caption drawn at the bottom; checked with checkCaption. */
  text?: string;
  /** Canvas side in pixels (the canvas is square). */
  size: number;
  /** Default 30; at most 30. */
  fps?: number;
  signal?: AbortSignal;
}

export interface EmojiFrames {
  width: number;
  height: number;
  fps: number;
  /** RGBA, straight alpha, width x height each. */
  frames: Buffer[];
}

export interface EmojiEncodeOptions {
  ffmpeg: FfmpegPaths;
  tempRoot?: string;
  signal?: AbortSignal;
}

export interface EmojiResult {
  data: Buffer;
  mime: 'video/webm' | 'image/gif';
  width: number;
  height: number;
  frames: number;
  fps: number;
  /** Seconds. */
  duration: number;
}

// ---------------------------------------------------------------------------------------------
// Images and drawing

const TAU = 2 * Math.PI;
const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);
const clamp01 = (v: number): number => clamp(v, 0, 1);

/** Premultiplied RGBA, 0..1. */
interface Premul {
  width: number;
  height: number;
  data: Float32Array;
}

/** X = a·u + c·v + e, Y = b·u + d·v + f. */
type Affine = [number, number, number, number, number, number];

function premultiply(rgba: Uint8Array, width: number, height: number): Premul {
  const data = new Float32Array(width * height * 4);
  for (let i = 0; i < data.length; i += 4) {
    const a = rgba[i + 3] / 255;
    data[i] = (rgba[i] / 255) * a;
    data[i + 1] = (rgba[i + 1] / 255) * a;
    data[i + 2] = (rgba[i + 2] / 255) * a;
    data[i + 3] = a;
  }
  return { width, height, data };
}

function invert(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * d - b * c;
  return [d / det, -b / det, -c / det, a / det, (c * f - d * e) / det, (b * e - a * f) / det];
}

function multiply(m: Affine, n: Affine): Affine {
  // m ∘ n: apply n first.
  return [
    m[0] * n[0] + m[2] * n[1],
    m[1] * n[0] + m[3] * n[1],
    m[0] * n[2] + m[2] * n[3],
    m[1] * n[2] + m[3] * n[3],
    m[0] * n[4] + m[2] * n[5] + m[4],
    m[1] * n[4] + m[3] * n[5] + m[5],
  ];
}

const translate = (x: number, y: number): Affine => [1, 0, 0, 1, x, y];
const scale = (sx: number, sy: number): Affine => [sx, 0, 0, sy, 0, 0];
const rotate = (r: number): Affine => [Math.cos(r), Math.sin(r), -Math.sin(r), Math.cos(r), 0, 0];

/** Hue rotation of the art (rainbow): a base angle plus one that grows along the art's diagonal. */
interface HueShift {
  angle: number;
  spread: number;
}

const HUE_LUT = 1024;
const COS_LUT = Float32Array.from({ length: HUE_LUT }, (_, i) => Math.cos((2 * Math.PI * i) / HUE_LUT));
const SIN_LUT = Float32Array.from({ length: HUE_LUT }, (_, i) => Math.sin((2 * Math.PI * i) / HUE_LUT));

/**
 * Rainbow colouring: the hue is rotated in YIQ, so greys (the white outline, black lines) stay as they
 * are; existing colour is strengthened a little and mid tones with almost none (skin, pale shading)
 * get a tint, so the whole art cycles. All linear in premultiplied values.
 */
const HUE_BOOST = 1.35;
const HUE_TINT = 0.2;

interface DrawOptions {
  opacity?: number;
  /** Multiplies the colour (the spin's back side and turning light). */
  shade?: number;
  hue?: HueShift;
}

/** A size x size premultiplied canvas that remembers which rectangle was drawn on. */
class Canvas {
  readonly data: Float32Array;
  private x0 = 0;
  private y0 = 0;
  private x1 = 0;
  private y1 = 0;
  /** Bilinear sums of the last sample (r, g, b, a). */
  private readonly acc = new Float64Array(4);

  constructor(readonly size: number) {
    this.data = new Float32Array(size * size * 4);
  }

  clear(): void {
    const { size, data } = this;
    for (let y = this.y0; y < this.y1; y++) data.fill(0, (y * size + this.x0) * 4, (y * size + this.x1) * 4);
    this.x0 = this.y0 = this.x1 = this.y1 = 0;
  }

  private touch(x0: number, y0: number, x1: number, y1: number): void {
    if (this.x1 <= this.x0) {
      this.x0 = x0;
      this.y0 = y0;
      this.x1 = x1;
      this.y1 = y1;
      return;
    }
    this.x0 = Math.min(this.x0, x0);
    this.y0 = Math.min(this.y0, y0);
    this.x1 = Math.max(this.x1, x1);
    this.y1 = Math.max(this.y1, y1);
  }

  /** Straight-alpha RGBA bytes. */
  toRgba(): Buffer {
    const { size, data } = this;
    const out = Buffer.alloc(size * size * 4);
    // Assignments to a Uint8ClampedArray round and clamp.
    const bytes = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length);
    for (let y = this.y0; y < this.y1; y++) {
      for (let i = (y * size + this.x0) * 4, end = (y * size + this.x1) * 4; i < end; i += 4) {
        const a = data[i + 3];
        if (a < 0.5 / 255) continue;
        const inv = 255 / a;
        bytes[i] = data[i] * inv;
        bytes[i + 1] = data[i + 1] * inv;
        bytes[i + 2] = data[i + 2] * inv;
        bytes[i + 3] = a * 255;
      }
    }
    return out;
  }

  /** Adds the bilinear sample of `img` at (fu, fv) (texel centres at integers) to acc. */
  private sample(img: Premul, fu: number, fv: number): void {
    const { width: w, height: h, data } = img;
    if (fu <= -1 || fv <= -1 || fu >= w || fv >= h) return;
    const acc = this.acc;
    const u0 = Math.floor(fu);
    const v0 = Math.floor(fv);
    const tu = fu - u0;
    const tv = fv - v0;
    const k00 = (1 - tu) * (1 - tv);
    const k10 = tu * (1 - tv);
    const k01 = (1 - tu) * tv;
    const k11 = tu * tv;
    if (u0 >= 0 && v0 >= 0 && u0 < w - 1 && v0 < h - 1) {
      const p00 = (v0 * w + u0) * 4;
      const p01 = p00 + w * 4;
      acc[0] += data[p00] * k00 + data[p00 + 4] * k10 + data[p01] * k01 + data[p01 + 4] * k11;
      acc[1] += data[p00 + 1] * k00 + data[p00 + 5] * k10 + data[p01 + 1] * k01 + data[p01 + 5] * k11;
      acc[2] += data[p00 + 2] * k00 + data[p00 + 6] * k10 + data[p01 + 2] * k01 + data[p01 + 6] * k11;
      acc[3] += data[p00 + 3] * k00 + data[p00 + 7] * k10 + data[p01 + 3] * k01 + data[p01 + 7] * k11;
      return;
    }
    // At the border: texels outside the image are transparent.
    for (let q = 0; q < 4; q++) {
      const uu = u0 + (q & 1);
      const vv = v0 + (q >> 1);
      if (uu < 0 || vv < 0 || uu >= w || vv >= h) continue;
      const k = q === 0 ? k00 : q === 1 ? k10 : q === 2 ? k01 : k11;
      const p = (vv * w + uu) * 4;
      acc[0] += data[p] * k;
      acc[1] += data[p + 1] * k;
      acc[2] += data[p + 2] * k;
      acc[3] += data[p + 3] * k;
    }
  }

  /**
   * Draws `img` over the canvas through `m` (image pixels → canvas pixels): bilinear, transparent
   * outside the image, supersampled along each canvas axis on which the image is shrunk below ~2/3.
   */
  drawImage(img: Premul, m: Affine, options: DrawOptions = {}): void {
    const { size, data: canvas, acc } = this;
    const det = m[0] * m[3] - m[1] * m[2];
    const opacity = options.opacity ?? 1;
    if (Math.abs(det) < 1e-6 || opacity <= 0) return;
    const shade = options.shade ?? 1;
    const [ia, ib, ic, id, ie, iff] = invert(m);
    const { width: w, height: h, data: src } = img;
    const wLast = w - 1;
    const hLast = h - 1;
    const rowStride = w * 4;

    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    for (const [u, v] of [[0, 0], [w, 0], [0, h], [w, h]]) {
      const X = m[0] * u + m[2] * v + m[4];
      const Y = m[1] * u + m[3] * v + m[5];
      x0 = Math.min(x0, X);
      y0 = Math.min(y0, Y);
      x1 = Math.max(x1, X);
      y1 = Math.max(y1, Y);
    }
    const bx0 = Math.max(0, Math.floor(x0));
    const by0 = Math.max(0, Math.floor(y0));
    const bx1 = Math.min(size, Math.ceil(x1));
    const by1 = Math.min(size, Math.ceil(y1));
    if (bx0 >= bx1 || by0 >= by1) return;
    this.touch(bx0, by0, bx1, by1);

    // Image pixels covered by one canvas pixel's step along X and along Y: where that is over ~1.5,
    // that axis is supersampled (the spin shrinks the art along X only).
    const nx = Math.min(4, Math.max(1, Math.ceil(Math.hypot(ia, ib) - 0.5)));
    const ny = Math.min(4, Math.max(1, Math.ceil(Math.hypot(ic, id) - 0.5)));
    const single = nx === 1 && ny === 1;
    const weight = opacity / (nx * ny);
    const hue = options.hue;
    const hueScale = hue ? hue.spread / (w + h) : 0;

    for (let Y = by0; Y < by1; Y++) {
      // The row's pixels whose centre maps inside the image (slack for supersampling).
      let xa = bx0;
      let xb = bx1;
      const cy = Y + 0.5;
      const spans: [number, number, number][] = [[ia, ic * cy + ie - 0.5, w], [ib, id * cy + iff - 0.5, h]];
      for (const [du, base, limit] of spans) {
        if (Math.abs(du) < 1e-9) {
          if (base <= -2 || base >= limit + 1) xb = xa;
          continue;
        }
        const e0 = (-2 - base) / du - 0.5;
        const e1 = (limit + 1 - base) / du - 0.5;
        xa = Math.max(xa, Math.floor(Math.min(e0, e1)));
        xb = Math.min(xb, Math.ceil(Math.max(e0, e1)) + 1);
      }
      for (let X = xa; X < xb; X++) {
        let r: number;
        let g: number;
        let b: number;
        let a: number;
        const fu = ia * (X + 0.5) + ic * cy + ie - 0.5;
        const fv = ib * (X + 0.5) + id * cy + iff - 0.5;
        const u0 = Math.floor(fu);
        const v0 = Math.floor(fv);
        if (single && u0 >= 0 && v0 >= 0 && u0 < wLast && v0 < hLast) {
          // The common case, inlined: one sample with all four texels inside.
          const tu = fu - u0;
          const tv = fv - v0;
          const k00 = (1 - tu) * (1 - tv);
          const k10 = tu * (1 - tv);
          const k01 = (1 - tu) * tv;
          const k11 = tu * tv;
          const p00 = (v0 * w + u0) * 4;
          const p01 = p00 + rowStride;
          a = (src[p00 + 3] * k00 + src[p00 + 7] * k10 + src[p01 + 3] * k01 + src[p01 + 7] * k11) * weight;
          if (a <= 0) continue;
          r = (src[p00] * k00 + src[p00 + 4] * k10 + src[p01] * k01 + src[p01 + 4] * k11) * weight;
          g = (src[p00 + 1] * k00 + src[p00 + 5] * k10 + src[p01 + 1] * k01 + src[p01 + 5] * k11) * weight;
          b = (src[p00 + 2] * k00 + src[p00 + 6] * k10 + src[p01 + 2] * k01 + src[p01 + 6] * k11) * weight;
        } else {
          acc[0] = acc[1] = acc[2] = acc[3] = 0;
          if (single) this.sample(img, fu, fv);
          else {
            for (let sy = 0; sy < ny; sy++) {
              const py = Y + (sy + 0.5) / ny;
              for (let sx = 0; sx < nx; sx++) {
                const px = X + (sx + 0.5) / nx;
                this.sample(img, ia * px + ic * py + ie - 0.5, ib * px + id * py + iff - 0.5);
              }
            }
          }
          a = acc[3] * weight;
          if (a <= 0) continue;
          r = acc[0] * weight;
          g = acc[1] * weight;
          b = acc[2] * weight;
        }
        if (hue) {
          const cx = X + 0.5;
          const u = ia * cx + ic * cy + ie;
          const v = ib * cx + id * cy + iff;
          const turn = ((Math.round(((hue.angle + hueScale * (u + v)) / TAU) * HUE_LUT) % HUE_LUT) + HUE_LUT) % HUE_LUT;
          const cos = COS_LUT[turn];
          const sin = SIN_LUT[turn];
          const yy = 0.299 * r + 0.587 * g + 0.114 * b;
          const i0 = 0.596 * r - 0.274 * g - 0.322 * b;
          const q0 = 0.211 * r - 0.523 * g + 0.312 * b;
          const lum = yy / a;
          // Tint strength: none for white and black, most for mid tones.
          const tint = HUE_TINT * a * clamp01((0.95 - lum) / 0.25) * clamp01((lum - 0.08) / 0.25);
          const i1 = (i0 * cos - q0 * sin) * HUE_BOOST + tint * cos;
          const q1 = (i0 * sin + q0 * cos) * HUE_BOOST + tint * sin;
          r = clamp(yy + 0.956 * i1 + 0.621 * q1, 0, a);
          g = clamp(yy - 0.272 * i1 - 0.647 * q1, 0, a);
          b = clamp(yy - 1.106 * i1 + 1.703 * q1, 0, a);
        }
        if (shade !== 1) {
          r *= shade;
          g *= shade;
          b *= shade;
        }
        if (a > 1) a = 1;
        const o = (Y * size + X) * 4;
        const keep = 1 - a;
        canvas[o] = r + canvas[o] * keep;
        canvas[o + 1] = g + canvas[o + 1] * keep;
        canvas[o + 2] = b + canvas[o + 2] * keep;
        canvas[o + 3] = a + canvas[o + 3] * keep;
      }
    }
  }

  /** A soft-edged dark ellipse (the ground shadow of the bounce). */
  drawShadow(cx: number, cy: number, rx: number, ry: number, opacity: number): void {
    const { size, data: canvas } = this;
    const x0 = Math.max(0, Math.floor(cx - rx));
    const x1 = Math.min(size, Math.ceil(cx + rx));
    const y0 = Math.max(0, Math.floor(cy - ry));
    const y1 = Math.min(size, Math.ceil(cy + ry));
    if (x0 >= x1 || y0 >= y1) return;
    this.touch(x0, y0, x1, y1);
    for (let Y = y0; Y < y1; Y++) {
      for (let X = x0; X < x1; X++) {
        const dx = (X + 0.5 - cx) / rx;
        const dy = (Y + 0.5 - cy) / ry;
        const d = dx * dx + dy * dy;
        if (d >= 1) continue;
        const s = 1 - d;
        const a = opacity * s * s;
        const o = (Y * size + X) * 4;
        const keep = 1 - a;
        canvas[o] *= keep;
        canvas[o + 1] *= keep;
        canvas[o + 2] *= keep;
        canvas[o + 3] = a + canvas[o + 3] * keep;
      }
    }
  }

  /** A layer as wide as the canvas, its top edge at `top`. */
  drawLayer(layer: Premul, top: number): void {
    const { size, data: canvas } = this;
    const { width, height, data } = layer;
    const y0 = Math.max(0, top);
    const y1 = Math.min(size, top + height);
    const w = Math.min(width, size);
    if (y0 >= y1) return;
    this.touch(0, y0, w, y1);
    for (let Y = y0; Y < y1; Y++) {
      for (let x = 0; x < w; x++) {
        const p = ((Y - top) * width + x) * 4;
        const a = data[p + 3];
        if (a <= 0) continue;
        const o = (Y * size + x) * 4;
        const keep = 1 - a;
        canvas[o] = data[p] + canvas[o] * keep;
        canvas[o + 1] = data[p + 1] + canvas[o + 1] * keep;
        canvas[o + 2] = data[p + 2] + canvas[o + 2] * keep;
        canvas[o + 3] = a + canvas[o + 3] * keep;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Effects

/**
 * Where the art is in one frame, in art units (the art's long side is 1, its centre at the origin,
 * y down): scaled by (sx, sy) and turned by rot around the pivot, then moved by (x, y).
 */
interface Pose {
  x: number;
  y: number;
  sx: number;
  sy: number;
  rot: number;
  /** Pivot height: 0 the art's top, 0.5 its centre, 1 its bottom. */
  pivot: number;
  shade?: number;
  hue?: HueShift;
}

interface EffectSpec {
  seconds: number;
  /** Largest share of the stage the art may take at rest (room for hearts, or just a margin). */
  fill: number;
  pose(t: number, art: { w: number; h: number }): Pose;
  /** With a ground shadow: how high the art is above the ground (0 on it, 1 at the top of a hop). */
  lift?(t: number): number;
  hearts?: boolean;
}

const easeInOutCubic = (t: number): number => (t < 0.5 ? 4 * t * t * t : 1 - (-2 * t + 2) ** 3 / 2);
const easeOutBack = (t: number): number => {
  const c1 = 1.70158;
  const c3 = c1 + 1;
  return 1 + c3 * (t - 1) ** 3 + c1 * (t - 1) ** 2;
};
const still = (): Pose => ({ x: 0, y: 0, sx: 1, sy: 1, rot: 0, pivot: 0.5 });

/** Bounce: share of the loop in the air, hop height in art heights. */
const BOUNCE_AIR = 0.7;
const BOUNCE_HEIGHT = 0.28;

function bounceHeight(t: number): number {
  if (t >= BOUNCE_AIR) return 0;
  const u = t / BOUNCE_AIR;
  return 4 * u * (1 - u);
}

const EFFECTS: Record<EmojiEffect, EffectSpec> = {
  bounce: {
    seconds: 1.2,
    fill: 0.96,
    pose(t, art) {
      if (t < BOUNCE_AIR) {
        const u = t / BOUNCE_AIR;
        // Stretched while fast (take-off, landing), round at the top; eased in and out so it is continuous.
        const stretch = 1 + 0.14 * Math.abs(1 - 2 * u) * Math.min(1, u / 0.12, (1 - u) / 0.12);
        return { x: 0, y: -BOUNCE_HEIGHT * art.h * bounceHeight(t), sx: 1 / Math.sqrt(stretch), sy: stretch, rot: 0, pivot: 1 };
      }
      // On the ground: squash, then spring back up.
      const v = (t - BOUNCE_AIR) / (1 - BOUNCE_AIR);
      const squash = Math.sin(Math.PI * v) * (1 - 0.3 * v);
      return { x: 0, y: 0, sx: 1 + 0.18 * squash, sy: 1 - 0.22 * squash, rot: 0, pivot: 1 };
    },
    lift: bounceHeight,
  },
  shake: {
    seconds: 1.2,
    fill: 0.96,
    pose(t, art) {
      const phase = TAU * 4 * t;
      // Strongest at the start of the loop, calmer in the middle: never at rest.
      const env = 0.7 + 0.3 * Math.cos(TAU * t);
      return {
        x: 0.1 * art.w * env * Math.sin(phase),
        y: -0.015 * art.h * Math.abs(Math.sin(phase)),
        sx: 1,
        sy: 1,
        rot: 0.14 * env * Math.sin(phase - 0.5),
        pivot: 0.85,
      };
    },
  },
  spin: {
    seconds: 2,
    fill: 0.9,
    pose(t, art) {
      const e = easeInOutCubic(clamp01((t - 0.12) / 0.7));
      const angle = TAU * e;
      const c = Math.cos(angle);
      const lift = Math.sin(Math.PI * e);
      return {
        x: 0,
        y: -0.08 * art.h * lift,
        sx: c,
        sy: 1 + 0.04 * lift,
        rot: 0,
        pivot: 0.5,
        // The face catches less light as it turns edge-on; the back is a little darker.
        shade: (0.72 + 0.28 * Math.abs(c)) * (c < 0 ? 0.9 : 1),
      };
    },
  },
  zoom: {
    seconds: 2,
    fill: 0.96,
    pose(t) {
      const Z = 1.35;
      let s: number;
      if (t < 0.26) s = 1 + (Z - 1) * easeOutBack(t / 0.26);
      else if (t < 0.56) s = Z;
      else if (t < 0.86) s = Z + (1 - Z) * easeInOutCubic((t - 0.56) / 0.3);
      else s = 1;
      const wobble = t < 0.56 ? 0.05 * Math.sin((TAU * t) / 0.28) * (1 - t / 0.56) : 0;
      return { ...still(), sx: s, sy: s, rot: wobble };
    },
  },
  rainbow: {
    seconds: 2,
    fill: 0.92,
    pose(t, art) {
      return { ...still(), y: -0.02 * art.h * Math.sin(TAU * t), hue: { angle: TAU * t, spread: Math.PI } };
    },
  },
  hearts: {
    seconds: 2,
    fill: 0.7,
    pose(t) {
      // Two heartbeats per loop.
      const beat = Math.max(0, Math.sin(TAU * 2 * t)) ** 4;
      return { ...still(), sx: 1 + 0.05 * beat, sy: 1 + 0.05 * beat };
    },
    hearts: true,
  },
};

/** The pose as an affine map from art units to stage units (before the fit). */
function poseMatrix(p: Pose, art: { w: number; h: number }): Affine {
  const pivotY = (p.pivot - 0.5) * art.h;
  return multiply(
    translate(p.x, p.y + pivotY),
    multiply(rotate(p.rot), multiply(scale(p.sx, p.sy), translate(0, -pivotY))),
  );
}

// Hearts: deterministic lanes at both sides, each heart rising once per loop.
const HEART_COUNT = 8;
const HEART_COLOURS = ['#ff4f8b', '#ff2d55', '#ff7eb6'];

interface Heart {
  x: number;
  y: number;
  size: number;
  rot: number;
  opacity: number;
  front: boolean;
  colour: number;
}

const frac = (v: number): number => v - Math.floor(v);

function heartsAt(t: number, size: number): Heart[] {
  const hearts: Heart[] = [];
  for (let i = 0; i < HEART_COUNT; i++) {
    const h1 = frac(i * 0.618034 + 0.13);
    const h2 = frac(i * 0.414214 + 0.71);
    const left = i % 2 === 0;
    const p = frac(t + i / HEART_COUNT + 0.04 * h2);
    // Lanes 0.12–0.22 from the edge: with the sway and the largest heart, never past the canvas.
    const lane = 0.12 + 0.1 * h1;
    const x = (left ? lane : 1 - lane) + 0.035 * Math.sin(TAU * (1.2 * p + h2));
    hearts.push({
      x: x * size,
      y: (0.9 - 0.78 * p) * size,
      size: size * (0.1 + 0.05 * h2) * (0.55 + 0.45 * Math.min(1, p / 0.3)),
      rot: 0.3 * Math.sin(TAU * (p + h1)),
      opacity: Math.min(1, p / 0.12, (1 - p) / 0.35),
      front: i % 4 === 1 || i % 4 === 2,
      colour: i % HEART_COLOURS.length,
    });
  }
  return hearts;
}

async function heartSprites(px: number): Promise<Premul[]> {
  const d = 'M50 88 C22 68 6 52 6 32 C6 17 17 7 30 7 C39 7 46 12 50 19 C54 12 61 7 70 7 C83 7 94 17 94 32 C94 52 78 68 50 88 Z';
  return Promise.all(
    HEART_COLOURS.map(async (colour) => {
      const svg =
        `<svg xmlns="http://www.w3.org/2000/svg" width="${px}" height="${px}" viewBox="0 0 100 100">` +
        `<path d="${d}" fill="${colour}" stroke="#ffffff" stroke-width="7" stroke-linejoin="round"/>` +
        `<ellipse cx="30" cy="28" rx="9" ry="6" fill="#ffffff" fill-opacity="0.55" transform="rotate(-35 30 28)"/></svg>`;
      const { data, info } = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      return premultiply(data, info.width, info.height);
    }),
  );
}

/** The cut-out trimmed to its visible pixels. */
function trimBox(cutout: Cutout): { left: number; top: number; width: number; height: number } {
  const { width, height, data } = cutout;
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[(y * width + x) * 4 + 3] > 2) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) throw new AnimefyError('BAD_OPTION', { detail: 'The cut-out is empty: nothing to animate.' });
  return { left: x0, top: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/** Frames in one loop of an effect at this frame rate. */
export function emojiFrameCount(effect: EmojiEffect, fps: number): number {
  return Math.max(2, Math.round(EFFECTS[effect].seconds * fps));
}

/**
 * One loop of the effect as RGBA frames on a `size` x `size` transparent canvas. Throws the caption's
 * errors (CAPTION_TOO_LONG, CAPTION_UNSUPPORTED) before drawing anything.
 */
export async function renderEmojiFrames(cutout: Cutout, options: EmojiFrameOptions): Promise<EmojiFrames> {
  const { effect, size, signal } = options;
  const fps = options.fps ?? EMOJI_MAX_FPS;
  if (!(fps > 0 && fps <= EMOJI_MAX_FPS)) throw new AnimefyError('BAD_OPTION', { detail: `An emoji has 1 to ${EMOJI_MAX_FPS} frames a second.` });
  const spec = EFFECTS[effect];
  if (!spec) throw new AnimefyError('UNKNOWN_EFFECT', { effect, effects: Object.keys(EFFECTS).join(', ') });
  if (!(Number.isInteger(size) && size >= 32 && size <= 1024)) {
    throw new AnimefyError('BAD_OPTION', { detail: `An emoji is 32 to 1024 px, not ${size}.` });
  }
  if (cutout.data.length !== cutout.width * cutout.height * 4) {
    throw new AnimefyError('BAD_OPTION', { detail: 'The cut-out must be RGBA.' });
  }
  const text = checkCaption(options.text);
  const frameCount = emojiFrameCount(effect, fps);

  // The art in art units: its long side is 1.
  const box = trimBox(cutout);
  const long = Math.max(box.width, box.height);
  const art = { w: box.width / long, h: box.height / long };

  // The stage: the canvas less a margin, and above most of the caption.
  const margin = size * 0.02;
  const capHeight = captionHeight(text, size);
  const stage = { x0: margin, y0: margin, x1: size - margin, y1: size - margin - capHeight * 0.6 };

  // Every frame's pose, and the box all of them cover (with the ground shadow).
  const poses = Array.from({ length: frameCount }, (_, i) => spec.pose(i / frameCount, art));
  let ux0 = Infinity;
  let uy0 = Infinity;
  let ux1 = -Infinity;
  let uy1 = -Infinity;
  let maxScale = 0;
  const corners = [[-art.w / 2, -art.h / 2], [art.w / 2, -art.h / 2], [-art.w / 2, art.h / 2], [art.w / 2, art.h / 2]];
  for (const pose of poses) {
    const m = poseMatrix(pose, art);
    for (const [u, v] of corners) {
      const X = m[0] * u + m[2] * v + m[4];
      const Y = m[1] * u + m[3] * v + m[5];
      ux0 = Math.min(ux0, X);
      ux1 = Math.max(ux1, X);
      uy0 = Math.min(uy0, Y);
      uy1 = Math.max(uy1, Y);
    }
    maxScale = Math.max(maxScale, Math.abs(pose.sx), Math.abs(pose.sy));
  }
  const shadowRy = 0.045 * art.h;
  if (spec.lift) uy1 = Math.max(uy1, art.h / 2 + shadowRy);
  const stageW = stage.x1 - stage.x0;
  const stageH = stage.y1 - stage.y0;
  // Pixels per art unit: every frame inside the stage, and the art at rest at most `fill` of it.
  const k = Math.min(stageW / (ux1 - ux0), stageH / (uy1 - uy0), (spec.fill * Math.min(stageW, stageH)) / Math.max(art.w, art.h));
  const toCanvas: Affine = multiply(
    translate((stage.x0 + stage.x1) / 2, (stage.y0 + stage.y1) / 2),
    multiply(scale(k, k), translate(-(ux0 + ux1) / 2, -(uy0 + uy1) / 2)),
  );

  // The art resampled once to its largest size on screen; frames then only shrink it.
  const artW = Math.max(1, Math.round(k * art.w * maxScale));
  const artH = Math.max(1, Math.round(k * art.h * maxScale));
  const resized = await sharp(cutout.data, { raw: { width: cutout.width, height: cutout.height, channels: 4 } })
    .extract(box)
    .resize(artW, artH, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const artImage = premultiply(resized.data, resized.info.width, resized.info.height);
  // Art pixels → art units (centre at the origin).
  const fromPixels: Affine = multiply(scale(art.w / artImage.width, art.h / artImage.height), translate(-artImage.width / 2, -artImage.height / 2));

  const caption = text ? await renderCaption(text, size) : undefined;
  const captionLayer = caption ? { image: premultiply(caption.data, caption.width, caption.height), top: caption.top } : undefined;
  const sprites = spec.hearts ? await heartSprites(Math.round(size * 0.16)) : [];

  const canvas = new Canvas(size);
  const frames: Buffer[] = [];
  for (let i = 0; i < frameCount; i++) {
    throwIfCancelled(signal);
    const t = i / frameCount;
    const pose = poses[i];
    canvas.clear();
    const hearts = spec.hearts ? heartsAt(t, size) : [];
    const drawHeart = (h: Heart): void => {
      const sprite = sprites[h.colour];
      const s = h.size / sprite.width;
      const m = multiply(translate(h.x, h.y), multiply(rotate(h.rot), multiply(scale(s, s), translate(-sprite.width / 2, -sprite.height / 2))));
      canvas.drawImage(sprite, m, { opacity: h.opacity });
    };
    for (const h of hearts) if (!h.front) drawHeart(h);
    if (spec.lift) {
      const lift = spec.lift(t);
      const ground = multiply(toCanvas, [1, 0, 0, 1, 0, art.h / 2]);
      canvas.drawShadow(ground[4], ground[5], k * art.w * 0.36 * (1 - 0.4 * lift), k * shadowRy * (1 - 0.3 * lift), 0.35 * (1 - 0.55 * lift));
    }
    canvas.drawImage(artImage, multiply(toCanvas, multiply(poseMatrix(pose, art), fromPixels)), { shade: pose.shade, hue: pose.hue });
    for (const h of hearts) if (h.front) drawHeart(h);
    if (captionLayer) canvas.drawLayer(captionLayer.image, captionLayer.top);
    frames.push(canvas.toRgba());
  }
  return { width: size, height: size, fps, frames };
}

// ---------------------------------------------------------------------------------------------
// Encoding

/**
 * First VP9 bitrate (kbit/s): the size limit spread over the loop with 20% headroom, halved because
 * the alpha plane is a second VP9 stream with the same target. Lowered by WEBM_RETRY_FACTOR while the
 * file is over the limit.
 */
function webmKbps(seconds: number): number {
  return Math.min(1200, Math.floor((EMOJI_MAX_BYTES * 8 * 0.8) / seconds / 2 / 1000));
}
const WEBM_TRIES = 4;
const WEBM_RETRY_FACTOR = 0.65;

/**
 * GIF settings tried in turn: all frames, then 16 colours (sharp's quantiser only reduces the palette
 * from 16 colours down), then every other frame.
 */
const GIF_LADDER = [
  { colours: 256, dither: 0, step: 1 },
  { colours: 16, dither: 0.5, step: 1 },
  { colours: 256, dither: 0, step: 2 },
  { colours: 16, dither: 0.5, step: 2 },
];

function checkFrames(f: EmojiFrames): void {
  const n = f.frames.length;
  if (n < 1 || f.fps <= 0 || f.fps > EMOJI_MAX_FPS || n / f.fps > EMOJI_MAX_SECONDS + 1e-9) {
    throw new AnimefyError('BAD_OPTION', { detail: `An emoji is at most ${EMOJI_MAX_SECONDS} s at ${EMOJI_MAX_FPS} fps.` });
  }
  for (const frame of f.frames) {
    if (frame.length !== f.width * f.height * 4) throw new AnimefyError('BAD_OPTION', { detail: 'Emoji frames must be RGBA.' });
  }
}

/**
 * Encodes the frames: 'webm' is a VP9 WebM with alpha (Telegram video sticker: no audio, ≤ 256 KB,
 * bitrate lowered until it fits); 'gif' a looping transparent GIF (fewer colours, then half the
 * frames, until it fits). Throws RESULT_TOO_LARGE when nothing fits, VIDEO_UNAVAILABLE (webm) when
 * the ffmpeg has no libvpx-vp9, BAD_OPTION for frames over 3 s or 30 fps, CANCELLED.
 */
export async function encodeEmoji(f: EmojiFrames, format: EmojiFormat, options: EmojiEncodeOptions): Promise<EmojiResult> {
  checkFrames(f);
  const base = { width: f.width, height: f.height };
  if (format === 'gif') {
    for (const step of GIF_LADDER) {
      throwIfCancelled(options.signal);
      const { data, frames } = await encodeGif(f, step);
      const duration = f.frames.length / f.fps;
      if (data.length <= EMOJI_MAX_BYTES) return { data, mime: 'image/gif', ...base, frames, fps: frames / duration, duration };
    }
  } else {
    const data = await encodeWebm(f, options);
    const frames = f.frames.length;
    return { data, mime: 'video/webm', ...base, frames, fps: f.fps, duration: frames / f.fps };
  }
  throw new AnimefyError('RESULT_TOO_LARGE', { limit: formatBytes(EMOJI_MAX_BYTES) });
}

async function encodeGif(
  f: EmojiFrames,
  { colours, dither, step }: { colours: number; dither: number; step: number },
): Promise<{ data: Buffer; frames: number }> {
  const n = f.frames.length;
  const kept = f.frames.filter((_, i) => i % step === 0);
  // Delays in whole centiseconds (what GIF stores) that add up to the exact loop length.
  const cs = (i: number): number => Math.round((Math.min(i * step, n) * 100) / f.fps);
  const delay = kept.map((_, i) => 10 * (cs(i + 1) - cs(i)));
  const data = await sharp(Buffer.concat(kept), {
    raw: { width: f.width, height: f.height * kept.length, channels: 4, pageHeight: f.height },
  })
    .gif({ delay, loop: 0, keepDuplicateFrames: true, colours, dither, effort: 3 })
    .toBuffer();
  return { data, frames: kept.length };
}

async function encodeWebm(f: EmojiFrames, options: EmojiEncodeOptions): Promise<Buffer> {
  const { ffmpeg, tempRoot, signal } = options;
  if (!(await hasEncoder(ffmpeg.ffmpeg, 'libvpx-vp9'))) throw new AnimefyError('VIDEO_UNAVAILABLE');
  const passthrough = await passthroughArgs(ffmpeg.ffmpeg);
  const input = Buffer.concat(f.frames);
  return withTempDir(tempRoot, async (dir) => {
    const out = path.join(dir, 'emoji.webm');
    let kbps = webmKbps(f.frames.length / f.fps);
    for (let attempt = 0; attempt < WEBM_TRIES; attempt++, kbps = Math.floor(kbps * WEBM_RETRY_FACTOR)) {
      throwIfCancelled(signal);
      // Realtime mode: several times faster than 'good' and, at these sizes, still clean. (The npm
      // package's 2018 build applies -cpu-used to the colour stream only, so its alpha stream is
      // encoded at libvpx's slow default: seconds instead of a fraction of one.)
      const args = [
        '-hide_banner', '-nostdin', '-v', 'error',
        '-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${f.width}x${f.height}`, '-framerate', String(f.fps), '-i', 'pipe:0',
        '-an', '-c:v', 'libvpx-vp9', '-pix_fmt', 'yuva420p', '-b:v', `${kbps}k`,
        '-deadline', 'realtime', '-cpu-used', '6', '-row-mt', '1', '-threads', '2', '-auto-alt-ref', '0',
        ...passthrough, '-f', 'webm', '-y', out,
      ];
      await runFfmpeg(ffmpeg.ffmpeg, args, { signal, input, timeoutMs: 120_000 });
      const data = await fs.readFile(out);
      if (data.length <= EMOJI_MAX_BYTES) return data;
    }
    throw new AnimefyError('RESULT_TOO_LARGE', { limit: formatBytes(EMOJI_MAX_BYTES) });
  });
}

/**
 * The whole emoji for a format: frames at the format's rate and size (EMOJI_TARGETS; `size`
 * overrides the size), then encoded.
 */
export async function makeEmoji(
  cutout: Cutout,
  request: { effect: EmojiEffect; text?: string; format: EmojiFormat; size?: number },
  options: EmojiEncodeOptions,
): Promise<EmojiResult> {
  const target = EMOJI_TARGETS[request.format];
  const frames = await renderEmojiFrames(cutout, { effect: request.effect, text: request.text, size: request.size ?? target.size, fps: target.fps, signal: options.signal });
  return encodeEmoji(frames, request.format, options);
}
