/**
 * Colour stage: keep the input's overall tones. Generators shift colour (AnimeGANv3 warms and
 * lightens; JP_face turns skin pale); a low-frequency colour transfer puts the photo's large-scale
 * colour back while the model keeps its lines, flat shading and small-scale colour.
 *
 * Works in YCbCr (BT.601, full range): chroma and luma are pulled separately toward the reference's
 * low-pass version, on a 1/8-size grid (fast), and the correction is upsampled smoothly.
 */
import { gaussianBlur } from './filters.ts';
import { assertSameSize, bilinearAxis, resizeChannels, type Image } from './image.ts';

export interface ColourTransfer {
  /** 0 = keep the model's colours, 1 = the photo's low-frequency chroma. */
  chroma: number;
  /** The same for brightness (usually small: the model's tonal look is part of the style). */
  luma: number;
}

export function transferLowFrequencyColour(styled: Image, reference: Image, amount: ColourTransfer): Image {
  assertSameSize(styled, reference);
  if (amount.chroma <= 0 && amount.luma <= 0) return styled;
  const { width, height } = styled;
  const factor = Math.max(1, Math.floor(Math.min(width, height) / 64)); // grid of ≥ 64 cells on the short side
  const gw = Math.max(1, Math.round(width / factor));
  const gh = Math.max(1, Math.round(height / factor));
  const styledSmall = toYCbCr(resizeChannels(styled.data, width, height, 3, gw, gh));
  const referenceSmall = toYCbCr(resizeChannels(reference.data, width, height, 3, gw, gh));
  // Low-pass at about 1/24 of the short side: colour of regions, not of edges.
  const sigma = Math.max(1, Math.min(gw, gh) / 24);
  const lowStyled = gaussianBlur(styledSmall, gw, gh, sigma, 3);
  const lowReference = gaussianBlur(referenceSmall, gw, gh, sigma, 3);
  const delta = new Float32Array(lowStyled.length);
  for (let i = 0; i < delta.length; i += 3) {
    delta[i] = (lowReference[i] - lowStyled[i]) * amount.luma;
    delta[i + 1] = (lowReference[i + 1] - lowStyled[i + 1]) * amount.chroma;
    delta[i + 2] = (lowReference[i + 2] - lowStyled[i + 2]) * amount.chroma;
  }
  // Apply, upsampling the coarse correction bilinearly on the fly (no full-size delta buffer).
  const out = new Float32Array(styled.data.length);
  const s = styled.data;
  const sy = gh / height;
  const { i0: gx0, i1: gx1, frac: gfx } = bilinearAxis(gw, width, 3);
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), gh - 1);
    const r0 = Math.floor(fy) * gw * 3;
    const r1 = Math.min(Math.floor(fy) + 1, gh - 1) * gw * 3;
    const wy = fy - Math.floor(fy);
    for (let x = 0, i = y * width * 3; x < width; x++, i += 3) {
      const a = r0 + gx0[x];
      const b = r0 + gx1[x];
      const c = r1 + gx0[x];
      const d = r1 + gx1[x];
      const wx = gfx[x];
      const w00 = (1 - wx) * (1 - wy);
      const w01 = wx * (1 - wy);
      const w10 = (1 - wx) * wy;
      const w11 = wx * wy;
      const r = s[i];
      const g = s[i + 1];
      const bl = s[i + 2];
      const yy = 0.299 * r + 0.587 * g + 0.114 * bl + (delta[a] * w00 + delta[b] * w01 + delta[c] * w10 + delta[d] * w11);
      const cb =
        -0.168736 * r - 0.331264 * g + 0.5 * bl + (delta[a + 1] * w00 + delta[b + 1] * w01 + delta[c + 1] * w10 + delta[d + 1] * w11);
      const cr =
        0.5 * r - 0.418688 * g - 0.081312 * bl + (delta[a + 2] * w00 + delta[b + 2] * w01 + delta[c + 2] * w10 + delta[d + 2] * w11);
      out[i] = clamp255(yy + 1.402 * cr);
      out[i + 1] = clamp255(yy - 0.344136 * cb - 0.714136 * cr);
      out[i + 2] = clamp255(yy + 1.772 * cb);
    }
  }
  return { width, height, data: out };
}

/** In place: RGB → Y, Cb, Cr (Cb/Cr centred on 0). */
export function toYCbCr(data: Float32Array): Float32Array {
  for (let i = 0; i < data.length; i += 3) {
    const r = data[i];
    const g = data[i + 1];
    const b = data[i + 2];
    data[i] = 0.299 * r + 0.587 * g + 0.114 * b;
    data[i + 1] = -0.168736 * r - 0.331264 * g + 0.5 * b;
    data[i + 2] = 0.5 * r - 0.418688 * g - 0.081312 * b;
  }
  return data;
}

/** In place: Y, Cb, Cr → RGB clamped to [0, 255]. */
export function fromYCbCr(data: Float32Array): Float32Array {
  for (let i = 0; i < data.length; i += 3) {
    const y = data[i];
    const cb = data[i + 1];
    const cr = data[i + 2];
    data[i] = clamp255(y + 1.402 * cr);
    data[i + 1] = clamp255(y - 0.344136 * cb - 0.714136 * cr);
    data[i + 2] = clamp255(y + 1.772 * cb);
  }
  return data;
}

export function clamp255(v: number): number {
  return v > 0 ? (v < 255 ? v : 255) : 0;
}


/** sRGB 0..255 → CIE L*a*b* (D65), one pixel; `out` receives [L, a, b]. */
export function rgbToLab(r: number, g: number, b: number, out: Float32Array | number[], offset = 0): void {
  const lr = SRGB_TO_LINEAR[Math.max(0, Math.min(1023, Math.round(r * 4)))];
  const lg = SRGB_TO_LINEAR[Math.max(0, Math.min(1023, Math.round(g * 4)))];
  const lb = SRGB_TO_LINEAR[Math.max(0, Math.min(1023, Math.round(b * 4)))];
  const fx = labF((0.4124564 * lr + 0.3575761 * lg + 0.1804375 * lb) / 0.95047);
  const fy = labF(0.2126729 * lr + 0.7151522 * lg + 0.072175 * lb);
  const fz = labF((0.0193339 * lr + 0.119192 * lg + 0.9503041 * lb) / 1.08883);
  out[offset] = 116 * fy - 16;
  out[offset + 1] = 500 * (fx - fy);
  out[offset + 2] = 200 * (fy - fz);
}

/** CIE76 colour difference between two Lab colours. */
export function deltaE(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/** sRGB → linear at quarter-level steps (0..255.75), so the conversion is a lookup. */
const SRGB_TO_LINEAR = (() => {
  const t = new Float32Array(1024);
  for (let i = 0; i < 1024; i++) {
    const c = i / 4 / 255;
    t[i] = c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }
  return t;
})();

function labF(t: number): number {
  return t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116;
}

