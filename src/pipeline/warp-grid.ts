/**
 * Image warps by inverse mapping on a coarse grid: displacements are computed at grid nodes only,
 * interpolated bilinearly for each output pixel, and the input is sampled there bilinearly. Pixels
 * displaced by less than 0.01 px (and all outside the grid) keep their exact values.
 *
 * Node (c, r) sits at pixel (x0 + c·step, y0 + r·step), evaluated at its centre (+0.5), the
 * continuous coordinates landmarks use.
 */
import type { Rect } from './image.ts';

/** Displacements on a grid of nodes `step` px apart starting at (x0, y0), `cols` × `rows` nodes. */
export interface WarpGrid {
  x0: number;
  y0: number;
  step: number;
  cols: number;
  rows: number;
  /** Per node: output pixel + (dx, dy) = where it samples the input. */
  dx: Float32Array;
  dy: Float32Array;
}

/**
 * An inverse-mapping grid over `region` (whole pixels): each node's displacement is `offset(x, y)`
 * (from the output position to the input point it shows) times `weight(x, y)`; `offset` is not
 * called where the weight is 0.
 */
export function sampleGrid(
  region: Rect,
  step: number,
  weight: (x: number, y: number) => number,
  offset: (x: number, y: number) => readonly [number, number],
): WarpGrid {
  const cols = Math.ceil(region.width / step) + 1;
  const rows = Math.ceil(region.height / step) + 1;
  const dx = new Float32Array(cols * rows);
  const dy = new Float32Array(cols * rows);
  for (let r = 0; r < rows; r++) {
    const y = region.y + r * step + 0.5;
    for (let c = 0; c < cols; c++) {
      const x = region.x + c * step + 0.5;
      const k = weight(x, y);
      if (!(k > 0)) continue;
      const [ox, oy] = offset(x, y);
      dx[r * cols + c] = ox * k;
      dy[r * cols + c] = oy * k;
    }
  }
  return { x0: region.x, y0: region.y, step, cols, rows, dx, dy };
}

/** Largest displacement on the grid, in pixels. */
export function gridReach(grid: WarpGrid): number {
  let m = 0;
  for (let i = 0; i < grid.dx.length; i++) m = Math.max(m, Math.abs(grid.dx[i]), Math.abs(grid.dy[i]));
  return m;
}

/** Interleaved pixels with `channels` values each (Float32 0..255, or 8-bit). */
export interface PixelBuffer {
  width: number;
  height: number;
  data: Float32Array | Uint8Array;
}

/**
 * Applies `grid` to `image` in place, within the grid's area only: each pixel whose interpolated
 * displacement is not zero is resampled bilinearly from a copy of the input; all others keep their
 * exact values. 8-bit buffers are rounded.
 */
export function applyWarpGrid(image: PixelBuffer, grid: WarpGrid, channels = 3): void {
  const { width, height, data } = image;
  const reach = Math.ceil(gridReach(grid)) + 2;
  const area = {
    x0: Math.max(0, grid.x0),
    y0: Math.max(0, grid.y0),
    x1: Math.min(width, grid.x0 + (grid.cols - 1) * grid.step + 1),
    y1: Math.min(height, grid.y0 + (grid.rows - 1) * grid.step + 1),
  };
  if (area.x1 <= area.x0 || area.y1 <= area.y0) return;
  // Source copy: the area plus the farthest any pixel samples from.
  const sx0 = Math.max(0, area.x0 - reach);
  const sy0 = Math.max(0, area.y0 - reach);
  const sx1 = Math.min(width, area.x1 + reach);
  const sy1 = Math.min(height, area.y1 + reach);
  const sw = sx1 - sx0;
  const sh = sy1 - sy0;
  const src = new Float32Array(sw * sh * channels);
  for (let y = sy0; y < sy1; y++) {
    const row = data.subarray((y * width + sx0) * channels, (y * width + sx1) * channels);
    src.set(row, (y - sy0) * sw * channels);
  }
  const round = data instanceof Uint8Array;
  const { step, cols, dx, dy } = grid;
  const inv = 1 / step;
  for (let y = area.y0; y < area.y1; y++) {
    const gy = (y - grid.y0) * inv;
    const r0 = Math.min(Math.floor(gy), grid.rows - 2);
    const ty = gy - r0;
    for (let x = area.x0; x < area.x1; x++) {
      const gx = (x - grid.x0) * inv;
      const c0 = Math.min(Math.floor(gx), cols - 2);
      const tx = gx - c0;
      const i00 = r0 * cols + c0;
      const i10 = i00 + 1;
      const i01 = i00 + cols;
      const i11 = i01 + 1;
      if (dx[i00] === 0 && dx[i10] === 0 && dx[i01] === 0 && dx[i11] === 0 && dy[i00] === 0 && dy[i10] === 0 && dy[i01] === 0 && dy[i11] === 0) continue;
      const ddx = (dx[i00] * (1 - tx) + dx[i10] * tx) * (1 - ty) + (dx[i01] * (1 - tx) + dx[i11] * tx) * ty;
      const ddy = (dy[i00] * (1 - tx) + dy[i10] * tx) * (1 - ty) + (dy[i01] * (1 - tx) + dy[i11] * tx) * ty;
      // Below 1/100 px the resampled value would differ by under 1% of a neighbour's: keep it exact.
      if (Math.abs(ddx) < 0.01 && Math.abs(ddy) < 0.01) continue;
      // Sample position in the source copy (clamped to it).
      const fx = Math.min(Math.max(x + ddx - sx0, 0), sw - 1);
      const fy = Math.min(Math.max(y + ddy - sy0, 0), sh - 1);
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const x1 = Math.min(x0 + 1, sw - 1);
      const y1 = Math.min(y0 + 1, sh - 1);
      const wx = fx - x0;
      const wy = fy - y0;
      const a = (y0 * sw + x0) * channels;
      const b = (y0 * sw + x1) * channels;
      const c = (y1 * sw + x0) * channels;
      const d = (y1 * sw + x1) * channels;
      const o = (y * width + x) * channels;
      for (let k = 0; k < channels; k++) {
        const top = src[a + k] + (src[b + k] - src[a + k]) * wx;
        const bottom = src[c + k] + (src[d + k] - src[c + k]) * wx;
        const v = top + (bottom - top) * wy;
        data[o + k] = round ? (v >= 255 ? 255 : v > 0 ? (v + 0.5) | 0 : 0) : v;
      }
    }
  }
}
