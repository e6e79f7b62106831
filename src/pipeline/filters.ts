/**
 * Linear-time filters on float planes, shared by the mask, blend, colour and grade stages.
 * All work on interleaved data with `channels` values per pixel and clamp at the borders.
 */
import { resizeChannels } from './image.ts';

/** Box mean with radius r (window 2r+1), separable running sums: O(pixels) whatever the radius. */
export function boxBlur(src: Float32Array, width: number, height: number, radius: number, channels = 1): Float32Array {
  const r = Math.max(0, Math.floor(radius));
  if (r === 0) return src.slice();
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  blurRows(src, tmp, width, height, channels, r);
  blurColumns(tmp, out, width, height, channels, r);
  return out;
}

/** Horizontal pass: a running sum along each row (clamped edges), with the edges handled apart. */
function blurRows(src: Float32Array, dst: Float32Array, width: number, height: number, channels: number, r: number): void {
  const norm = 1 / (2 * r + 1);
  const last = width - 1;
  for (let y = 0; y < height; y++) {
    const base = y * width * channels;
    for (let c = 0; c < channels; c++) {
      const b = base + c;
      const first = src[b];
      const end = src[b + last * channels];
      let sum = first * (r + 1);
      for (let i = 1; i <= r; i++) sum += src[b + Math.min(i, last) * channels];
      let i = 0;
      // Left edge: the window's left end is clamped to the first pixel.
      const leftEnd = Math.min(width, r + 1, Math.max(0, width - r - 1));
      for (; i < leftEnd; i++) {
        dst[b + i * channels] = sum * norm;
        sum += src[b + (i + r + 1) * channels] - first;
      }
      // Middle: both ends inside the row.
      const middleEnd = width - r - 1;
      for (; i < middleEnd; i++) {
        dst[b + i * channels] = sum * norm;
        sum += src[b + (i + r + 1) * channels] - src[b + (i - r) * channels];
      }
      // Right edge (and short rows): clamp both ends.
      for (; i < width; i++) {
        dst[b + i * channels] = sum * norm;
        const add = i + r + 1 <= last ? src[b + (i + r + 1) * channels] : end;
        sum += add - src[b + Math.max(i - r, 0) * channels];
      }
    }
  }
}

/** Vertical pass: one running sum per column, slid down row by row so memory is read in order. */
function blurColumns(src: Float32Array, dst: Float32Array, width: number, height: number, channels: number, r: number): void {
  const rowLen = width * channels;
  const norm = 1 / (2 * r + 1);
  const last = height - 1;
  const acc = new Float64Array(rowLen);
  for (let k = 0; k < rowLen; k++) acc[k] = src[k] * (r + 1);
  for (let i = 1; i <= r; i++) {
    const row = Math.min(i, last) * rowLen;
    for (let k = 0; k < rowLen; k++) acc[k] += src[row + k];
  }
  for (let y = 0; y < height; y++) {
    const o = y * rowLen;
    const add = Math.min(y + r + 1, last) * rowLen;
    const sub = Math.max(y - r, 0) * rowLen;
    for (let k = 0; k < rowLen; k++) {
      dst[o + k] = acc[k] * norm;
      acc[k] += src[add + k] - src[sub + k];
    }
  }
}

/** Gaussian blur approximated by three box passes (within a few percent of a true Gaussian). */
export function gaussianBlur(src: Float32Array, width: number, height: number, sigma: number, channels = 1): Float32Array {
  if (sigma <= 0.3) return src.slice();
  // Box radii for three passes whose combined variance matches sigma² (Kovesi).
  const n = 3;
  const wIdeal = Math.sqrt((12 * sigma * sigma) / n + 1);
  let wl = Math.floor(wIdeal);
  if (wl % 2 === 0) wl--;
  const wu = wl + 2;
  const m = Math.round((12 * sigma * sigma - n * wl * wl - 4 * n * wl - 3 * n) / (-4 * wl - 4));
  let out = src;
  for (let i = 0; i < n; i++) {
    const w = i < m ? wl : wu;
    out = boxBlur(out, width, height, (w - 1) / 2, channels);
  }
  return out;
}

/**
 * Guided filter (He et al. 2010) of one plane `src` with one guide plane: edge-aware smoothing that
 * snaps a soft mask to the guide's edges. Guide and source in comparable ranges (e.g. both 0..1).
 */
export function guidedFilter(
  guide: Float32Array,
  src: Float32Array,
  width: number,
  height: number,
  radius: number,
  eps: number,
): Float32Array {
  const n = guide.length;
  const ip = new Float32Array(n);
  const ii = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    ip[i] = guide[i] * src[i];
    ii[i] = guide[i] * guide[i];
  }
  const meanI = boxBlur(guide, width, height, radius);
  const meanP = boxBlur(src, width, height, radius);
  const corrIp = boxBlur(ip, width, height, radius);
  const corrII = boxBlur(ii, width, height, radius);
  const a = ip; // reuse buffers
  const b = ii;
  for (let i = 0; i < n; i++) {
    const varI = corrII[i] - meanI[i] * meanI[i];
    const covIp = corrIp[i] - meanI[i] * meanP[i];
    a[i] = covIp / (varI + eps);
    b[i] = meanP[i] - a[i] * meanI[i];
  }
  const meanA = boxBlur(a, width, height, radius);
  const meanB = boxBlur(b, width, height, radius);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = meanA[i] * guide[i] + meanB[i];
  return out;
}

/**
 * Edge-preserving smoothing of an RGB image: the guided filter with each channel as its own guide,
 * which flattens texture and noise while keeping outlines (the "clean" look of cel animation).
 * With guide = input the filter needs only the local mean and variance, so all three channels go
 * through 4 interleaved box blurs. Values in [0,255]; `eps` is in the same units squared.
 */
export function smoothPreservingEdges(
  data: Float32Array,
  width: number,
  height: number,
  radius: number,
  eps: number,
): Float32Array {
  // Fast guided filter (He & Sun 2015): coefficients at half resolution for larger windows, applied
  // to the full-resolution pixels, so edges stay exact while the blurs cost a quarter.
  const sub = radius >= 4 && width >= 64 && height >= 64 ? 2 : 1;
  const w = Math.round(width / sub);
  const h = Math.round(height / sub);
  const small = sub > 1 ? resizeChannels(data, width, height, 3, w, h) : data;
  const r = Math.max(1, Math.round(radius / sub));
  const squares = new Float32Array(small.length);
  for (let i = 0; i < small.length; i++) squares[i] = small[i] * small[i];
  const mean = boxBlur(small, w, h, r, 3);
  const meanSq = boxBlur(squares, w, h, r, 3);
  const a = squares; // reuse
  const b = new Float32Array(small.length);
  for (let i = 0; i < small.length; i++) {
    const variance = Math.max(0, meanSq[i] - mean[i] * mean[i]);
    const k = variance / (variance + eps);
    a[i] = k;
    b[i] = mean[i] * (1 - k);
  }
  let meanA = boxBlur(a, w, h, r, 3);
  let meanB = boxBlur(b, w, h, r, 3);
  if (sub > 1) {
    meanA = resizeChannels(meanA, w, h, 3, width, height);
    meanB = resizeChannels(meanB, w, h, 3, width, height);
  }
  const out = meanB; // reuse
  for (let i = 0; i < data.length; i++) out[i] = meanA[i] * data[i] + meanB[i];
  return out;
}

/** Grey-level dilation (max filter) with a square window of radius r, separable. */
export function dilate(src: Float32Array, width: number, height: number, radius: number): Float32Array {
  return morph(src, width, height, radius, Math.max);
}

function morph(
  src: Float32Array,
  width: number,
  height: number,
  radius: number,
  op: (a: number, b: number) => number,
): Float32Array {
  const r = Math.max(0, Math.floor(radius));
  if (r === 0) return src.slice();
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let v = src[row + x];
      const x0 = Math.max(0, x - r);
      const x1 = Math.min(width - 1, x + r);
      for (let k = x0; k <= x1; k++) v = op(v, src[row + k]);
      tmp[row + x] = v;
    }
  }
  for (let y = 0; y < height; y++) {
    const y0 = Math.max(0, y - r);
    const y1 = Math.min(height - 1, y + r);
    for (let x = 0; x < width; x++) {
      let v = tmp[y * width + x];
      for (let k = y0; k <= y1; k++) v = op(v, tmp[k * width + x]);
      out[y * width + x] = v;
    }
  }
  return out;
}

export interface EdgeOptions {
  /** Gaussian smoothing before gradients, in pixels. */
  sigma: number;
  /** High threshold as a quantile of the gradient magnitudes (e.g. 0.9). */
  highQuantile: number;
  /** Low threshold as a fraction of the high one. */
  lowRatio: number;
  /** High threshold never goes below this (0..255 units per pixel), so flat pictures get no noise lines. */
  minHigh: number;
}

/**
 * Canny edges: Gaussian, Sobel, non-maximum suppression along the gradient, then hysteresis (weak
 * edges survive only when connected to strong ones). Returns a 0/1 plane of one-pixel lines.
 */
export function detectEdges(plane: Float32Array, width: number, height: number, options: EdgeOptions): Float32Array {
  const n = width * height;
  const smooth = gaussianBlur(plane, width, height, options.sigma);
  const mag = new Float32Array(n);
  const dir = new Uint8Array(n); // 0: horizontal gradient, 1: 45°, 2: vertical, 3: 135°
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const a = smooth[i - width - 1];
      const b = smooth[i - width];
      const c = smooth[i - width + 1];
      const d = smooth[i - 1];
      const f = smooth[i + 1];
      const g = smooth[i + width - 1];
      const h = smooth[i + width];
      const k = smooth[i + width + 1];
      const gx = c + 2 * f + k - a - 2 * d - g;
      const gy = g + 2 * h + k - a - 2 * b - c;
      mag[i] = Math.sqrt(gx * gx + gy * gy) / 8;
      const angle = Math.atan2(gy, gx);
      const sector = Math.round(((angle < 0 ? angle + Math.PI : angle) / Math.PI) * 4) % 4;
      dir[i] = sector;
    }
  }
  const high = Math.max(options.minHigh, quantile(mag, options.highQuantile));
  const low = high * options.lowRatio;
  // Non-maximum suppression.
  const thin = new Float32Array(n);
  const offsets = [1, width + 1, width, width - 1];
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const m = mag[i];
      if (m < low) continue;
      const o = offsets[dir[i]];
      if (m >= mag[i - o] && m > mag[i + o]) thin[i] = m;
    }
  }
  // Hysteresis from strong pixels through 8-connected weak ones.
  const out = new Float32Array(n);
  const stack: number[] = [];
  for (let i = 0; i < n; i++) {
    if (thin[i] >= high && out[i] === 0) {
      out[i] = 1;
      stack.push(i);
      while (stack.length) {
        const p = stack.pop()!;
        const px = p % width;
        for (let dy = -width; dy <= width; dy += width) {
          for (let dx = -1; dx <= 1; dx++) {
            const q = p + dy + dx;
            if (q < 0 || q >= n || (dx === -1 && px === 0) || (dx === 1 && px === width - 1)) continue;
            if (out[q] === 0 && thin[q] >= low) {
              out[q] = 1;
              stack.push(q);
            }
          }
        }
      }
    }
  }
  return out;
}

/** The q-quantile (0..1) of the positive values, by histogram (fast, approximate). */
export function quantile(values: Float32Array, q: number): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) if (values[i] > max) max = values[i];
  if (max === 0) return 0;
  const bins = 2048;
  const hist = new Uint32Array(bins);
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > 0) {
      hist[Math.min(bins - 1, Math.floor((values[i] / max) * bins))]++;
      count++;
    }
  }
  const target = q * count;
  let seen = 0;
  for (let b = 0; b < bins; b++) {
    seen += hist[b];
    if (seen >= target) return ((b + 1) / bins) * max;
  }
  return max;
}
