/**
 * Thin-plate spline interpolation of 2D displacements: the smoothest (least bending energy) field
 * that takes each handle exactly to its target. Used for the smile warp by inverse mapping: handles
 * are output positions and values the offsets back to where they come from in the input.
 */
import type { Point } from './faces.ts';

export interface ThinPlateSpline {
  /** Handles, scaled by 1/scale about the origin (conditioning). */
  readonly cx: Float64Array;
  readonly cy: Float64Array;
  readonly scale: number;
  /** Kernel weights and the affine part, per output coordinate. */
  readonly wx: Float64Array;
  readonly wy: Float64Array;
  readonly ax: readonly [number, number, number];
  readonly ay: readonly [number, number, number];
}

/** U(r) = r² log r² (0 at r = 0). */
function kernel(r2: number): number {
  return r2 > 1e-20 ? r2 * Math.log(r2) : 0;
}

/**
 * Fits the spline through `handles` with 2D `values`. `scale` (the handles' spread, e.g. a face's
 * height) keeps the system well conditioned. Handles must be distinct and not all on one line.
 */
export function fitThinPlate(handles: readonly Point[], values: readonly Point[], scale: number): ThinPlateSpline {
  const n = handles.length;
  const m = n + 3;
  const cx = new Float64Array(n);
  const cy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    cx[i] = handles[i][0] / scale;
    cy[i] = handles[i][1] / scale;
  }
  // [K P; Pᵀ 0] [w; a] = [v; 0], two right-hand sides.
  const A = new Float64Array(m * m);
  const b = new Float64Array(m * 2);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) A[i * m + j] = kernel((cx[i] - cx[j]) ** 2 + (cy[i] - cy[j]) ** 2);
    A[i * m + n] = 1;
    A[i * m + n + 1] = cx[i];
    A[i * m + n + 2] = cy[i];
    A[n * m + i] = 1;
    A[(n + 1) * m + i] = cx[i];
    A[(n + 2) * m + i] = cy[i];
    b[i * 2] = values[i][0];
    b[i * 2 + 1] = values[i][1];
  }
  solveInPlace(A, b, m, 2);
  const wx = new Float64Array(n);
  const wy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    wx[i] = b[i * 2];
    wy[i] = b[i * 2 + 1];
  }
  return {
    cx,
    cy,
    scale,
    wx,
    wy,
    ax: [b[n * 2], b[(n + 1) * 2], b[(n + 2) * 2]],
    ay: [b[n * 2 + 1], b[(n + 1) * 2 + 1], b[(n + 2) * 2 + 1]],
  };
}

/** The spline's value at (x, y). */
export function evalThinPlate(tps: ThinPlateSpline, x: number, y: number): [number, number] {
  const u = x / tps.scale;
  const v = y / tps.scale;
  let fx = tps.ax[0] + tps.ax[1] * u + tps.ax[2] * v;
  let fy = tps.ay[0] + tps.ay[1] * u + tps.ay[2] * v;
  const { cx, cy, wx, wy } = tps;
  for (let i = 0; i < cx.length; i++) {
    const k = kernel((u - cx[i]) ** 2 + (v - cy[i]) ** 2);
    fx += wx[i] * k;
    fy += wy[i] * k;
  }
  return [fx, fy];
}

/** Gaussian elimination with partial pivoting: solves A·X = B (B is m × cols, row-major), into B. */
function solveInPlace(A: Float64Array, B: Float64Array, m: number, cols: number): void {
  for (let k = 0; k < m; k++) {
    let pivot = k;
    for (let i = k + 1; i < m; i++) if (Math.abs(A[i * m + k]) > Math.abs(A[pivot * m + k])) pivot = i;
    if (Math.abs(A[pivot * m + k]) < 1e-14) throw new RangeError('Thin-plate spline: singular handle layout');
    if (pivot !== k) {
      for (let j = 0; j < m; j++) [A[k * m + j], A[pivot * m + j]] = [A[pivot * m + j], A[k * m + j]];
      for (let c = 0; c < cols; c++) [B[k * cols + c], B[pivot * cols + c]] = [B[pivot * cols + c], B[k * cols + c]];
    }
    const inv = 1 / A[k * m + k];
    for (let i = k + 1; i < m; i++) {
      const f = A[i * m + k] * inv;
      if (f === 0) continue;
      for (let j = k; j < m; j++) A[i * m + j] -= f * A[k * m + j];
      for (let c = 0; c < cols; c++) B[i * cols + c] -= f * B[k * cols + c];
    }
  }
  for (let k = m - 1; k >= 0; k--) {
    for (let c = 0; c < cols; c++) {
      let s = B[k * cols + c];
      for (let j = k + 1; j < m; j++) s -= A[k * m + j] * B[j * cols + c];
      B[k * cols + c] = s / A[k * m + k];
    }
  }
}
