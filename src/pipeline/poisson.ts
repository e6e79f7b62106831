/**
 * Poisson seamless cloning (Pérez, Gangnet & Blake, "Poisson Image Editing", SIGGRAPH 2003), with
 * the guidance field of OpenCV's NORMAL_CLONE (`Cloning::normalClone`), solved directly with fast
 * sine transforms. OpenCV's WASM build has no `seamlessClone`, so we own this one.
 *
 * Inside the box, per channel, find f with
 *     ∇²f = div v,    v = m·∇src + (1 − m)·∇dst,    f = dst on the box's outermost ring,
 * where ∇ is the forward difference, ∇² the 5-point Laplacian and m the soft mask averaged over the
 * two pixels of each difference. Writing f = dst + u turns this into a problem with u = 0 on the
 * ring:
 *     ∇²u = div(m·(∇src − ∇dst)),   i.e.   ∇²u(p) = Σ_{q ∈ N4(p)} m_pq · (e_q − e_p),   e = src − dst,
 * so a zero mask gives u = 0 and f = dst exactly, and the right-hand side is small and smooth.
 *
 * Solver: the 5-point Laplacian with zero Dirichlet boundary on an nx × ny interior is diagonalised
 * by DST-I in both directions, with eigenvalues
 *     λ(j, k) = (2cos(πj/(nx+1)) − 2) + (2cos(πk/(ny+1)) − 2).
 * We apply the DST-I along one axis only, which splits the system into nx independent
 * tridiagonal systems along the other axis,
 *     û(k−1) + (μ_j − 2)·û(k) + û(k+1) = r̂(k),   μ_j = 2cos(πj/(nx+1)) − 2,
 * each solved exactly by Gaussian elimination (Thomas algorithm) — the same solution as dividing
 * by λ(j, k) after a second DST, with half the transforms ("Fourier analysis + tridiagonal", Hockney
 * 1965). The transform axis is the one whose DST is cheaper (its length + 1 5-smooth if possible,
 * see `nextSmoothSize`), so only one side of the box needs a fast size; when neither does, the FFT
 * falls back to Bluestein (exact, about 2.5x slower overall).
 *
 * The box is never enlarged here: the result is exact for the box given, its ring stays dst and
 * nothing outside it changes (enlarging the solved region would move the Dirichlet ring and alter
 * pixels outside the box). Callers that have margin to spare, such as face boxes, can pass their
 * box through `fastCloneBox` first to grow it, within the image, to a size on the fast path.
 */

import { dst1Rows, isSmooth, nextSmoothSize } from './fft.ts';
import { assertSameSize, clampRect } from './image.ts';
import type { Image, Mask, Rect } from './image.ts';

/**
 * Seamless (Poisson) cloning of `src` onto `dst` inside `box`, NORMAL_CLONE semantics as OpenCV.
 *
 * `dst`, `src` and `mask` are the same size; `box` is clamped to the image. Returns a new image: a
 * copy of `dst` whose pixels strictly inside the box hold the solution, clamped to [0, 255]; the box's
 * outer ring and everything outside the box keep dst's values. Boxes smaller than 3×3 (after
 * clamping) return a plain copy. Inputs are not modified.
 */
export function seamlessClone(dst: Image, src: Image, mask: Mask, box: Rect): Image {
  assertSameSize(dst, src);
  assertSameSize(dst, mask);
  const out: Image = { width: dst.width, height: dst.height, data: dst.data.slice() };
  const r = clampRect(box, dst.width, dst.height);
  // `!(… >= 3)` also rejects NaN sizes from a non-finite box.
  if (!(r.width >= 3 && r.height >= 3)) return out;

  const nx = r.width - 2;
  const ny = r.height - 2;
  // Transform along x (rows) or along y (columns, by building the problem transposed).
  const transposed = dstCost(ny, nx) < dstCost(nx, ny);
  const n = transposed ? ny : nx; // transform length
  const lines = transposed ? nx : ny; // number of transformed lines = tridiagonal length
  const plane = nx * ny;

  const rhs = workspace(3 * plane);
  buildRhs(dst, src, mask, r, transposed, rhs);

  dst1Rows(rhs, n, 3 * lines);
  const pivots = thomasPivots(n, lines);
  for (let c = 0; c < 3; c++) solveTridiagonal(rhs, c * plane, n, lines, pivots);
  dst1Rows(rhs, n, 3 * lines);

  // The inverse DST-I is the DST-I scaled by 2 / (n + 1).
  writeBack(out, dst, r, transposed, rhs, 2 / (n + 1));
  return out;
}

/**
 * Grows `box` (clamped to the image) by the fewest pixels, never beyond the image, so that
 * `seamlessClone` takes its fast path: one side's interior length + 1 (width − 1 or height − 1)
 * 5-smooth, see `nextSmoothSize`. Returns the clamped box unchanged when it is already fast, smaller
 * than 3×3, or the image leaves no room to grow it. Solving the grown box changes pixels in the
 * added margin too (the Dirichlet ring moves outwards), which is harmless where the mask is 0.
 */
export function fastCloneBox(box: Rect, width: number, height: number): Rect {
  const r = clampRect(box, width, height);
  if (!(r.width >= 3 && r.height >= 3)) return r;
  if (isSmooth(r.width - 1) || isSmooth(r.height - 1)) return r;
  const growX = nextSmoothSize(r.width - 2) + 2 - r.width;
  const growY = nextSmoothSize(r.height - 2) + 2 - r.height;
  const fitsX = r.width + growX <= width;
  const fitsY = r.height + growY <= height;
  // Prefer the axis that adds fewer pixels.
  if (fitsX && (!fitsY || growX * r.height <= growY * r.width)) {
    return { ...r, x: growStart(r.x, r.width, growX, width), width: r.width + growX };
  }
  if (fitsY) return { ...r, y: growStart(r.y, r.height, growY, height), height: r.height + growY };
  return r;
}

/** New start of a span [start, start + size) grown by `grow` about its centre, kept in [0, limit). */
function growStart(start: number, size: number, grow: number, limit: number): number {
  const centred = start - Math.floor(grow / 2);
  return Math.min(Math.max(0, centred), limit - (size + grow));
}

/**
 * The solver's main buffer, kept between calls: allocating (and page-faulting) several megabytes
 * per face or per video frame costs as much as a transform pass. Calls are synchronous, so one
 * buffer is never shared by two solves.
 */
let scratch = new Float64Array(0);

function workspace(size: number): Float64Array {
  if (scratch.length < size) scratch = new Float64Array(size);
  return scratch.subarray(0, size);
}

/**
 * Relative cost of transforming `lines` lines of length n: a 5-smooth FFT of n + 1 points, or a
 * Bluestein convolution (two FFTs of the next 5-smooth size ≥ 2(n + 1) − 1) otherwise.
 */
function dstCost(n: number, lines: number): number {
  const size = n + 1;
  if (isSmooth(size)) return lines * size * Math.log2(size);
  let conv = 2 * size - 1;
  while (!isSmooth(conv)) conv++;
  return lines * (2 * conv * Math.log2(conv) + 4 * size);
}

/**
 * rhs(p) = Σ_{q ∈ N4(p)} ½(m_p + m_q)·(e_q − e_p), e = src − dst, for the interior pixels of `r`,
 * as three planes of nx × ny (row-major; column-major when `transposed`): the divergence of the
 * edge fluxes g_pq = ½(m_p + m_q)·(e_q − e_p), each computed once. Walks the box row by row,
 * keeping only the current and next row of e and m and the vertical fluxes above and below.
 */
function buildRhs(dst: Image, src: Image, mask: Mask, r: Rect, transposed: boolean, rhs: Float64Array): void {
  const w = r.width;
  const nx = w - 2;
  const ny = r.height - 2;
  const plane = nx * ny;
  let eCur = new Float64Array(3 * w); // three channels, planar: [c·w + x]
  let eNext = new Float64Array(3 * w);
  let mCur = new Float64Array(w);
  let mNext = new Float64Array(w);
  let up = new Float64Array(3 * w); // fluxes between the row above and the current one
  let down = new Float64Array(3 * w); // fluxes between the current row and the one below
  const gx = new Float64Array(w); // fluxes between x and x + 1 on the current row, one channel
  const step = transposed ? ny : 1; // output index step along x

  loadRow(dst, src, mask, r, 0, eCur, mCur);
  loadRow(dst, src, mask, r, 1, eNext, mNext);
  verticalFluxes(eCur, mCur, eNext, mNext, w, up);

  for (let y = 1; y <= ny; y++) {
    let te = eCur;
    eCur = eNext;
    eNext = te;
    const tm = mCur;
    mCur = mNext;
    mNext = tm;
    loadRow(dst, src, mask, r, y + 1, eNext, mNext);
    verticalFluxes(eCur, mCur, eNext, mNext, w, down);
    for (let c = 0; c < 3; c++) {
      const base = c * w;
      for (let x = 0; x < w - 1; x++) gx[x] = 0.5 * (mCur[x] + mCur[x + 1]) * (eCur[base + x + 1] - eCur[base + x]);
      let o = c * plane + (transposed ? y - 1 : (y - 1) * nx);
      for (let x = 1; x <= nx; x++, o += step) {
        rhs[o] = gx[x] - gx[x - 1] + down[base + x] - up[base + x];
      }
    }
    te = up;
    up = down;
    down = te;
  }
}

/** g = ½(m_a + m_b)·(e_b − e_a) between row a and the row b below it, three channels. */
function verticalFluxes(ea: Float64Array, ma: Float64Array, eb: Float64Array, mb: Float64Array, w: number, g: Float64Array): void {
  for (let x = 0; x < w; x++) {
    const weight = 0.5 * (ma[x] + mb[x]);
    g[x] = weight * (eb[x] - ea[x]);
    g[x + w] = weight * (eb[x + w] - ea[x + w]);
    g[x + 2 * w] = weight * (eb[x + 2 * w] - ea[x + 2 * w]);
  }
}

/** Box row y: e = src − dst as three planar runs of w (non-finite → 0), m clamped to [0, 1]. */
function loadRow(dst: Image, src: Image, mask: Mask, r: Rect, y: number, e: Float64Array, m: Float64Array): void {
  const w = r.width;
  const p0 = (r.y + y) * dst.width + r.x;
  const d = dst.data;
  const s = src.data;
  const md = mask.data;
  for (let x = 0, k = 3 * p0; x < w; x++, k += 3) {
    e[x] = finiteOrZero(s[k] - d[k]);
    e[x + w] = finiteOrZero(s[k + 1] - d[k + 1]);
    e[x + 2 * w] = finiteOrZero(s[k + 2] - d[k + 2]);
    const v = md[p0 + x];
    m[x] = v >= 1 ? 1 : v > 0 ? v : 0; // also maps NaN to 0
  }
}

/**
 * Elimination pivots for the tridiagonal systems  û(k−1) + d_j·û(k) + û(k+1) = r̂(k),
 * d_j = μ_j − 2 = 2cos(π(j+1)/(n+1)) − 4 (0-based j), k = 0..lines−1, stored [k·n + j]:
 *   c(0) = 1 / d_j,  c(k) = 1 / (d_j − c(k−1)).
 * |d_j| > 2, so |c| < 1 and the elimination is stable. Shared by the three channels.
 */
function thomasPivots(n: number, lines: number): Float64Array {
  // Video frames and repeated faces solve the same size again: keep the last table.
  if (pivotCache && pivotCache.n === n && pivotCache.lines === lines) return pivotCache.c;
  const diag = new Float64Array(n);
  for (let j = 0; j < n; j++) diag[j] = 2 * Math.cos((Math.PI * (j + 1)) / (n + 1)) - 4;
  const c = new Float64Array(n * lines);
  for (let j = 0; j < n; j++) c[j] = 1 / diag[j];
  for (let k = 1; k < lines; k++) {
    const row = k * n;
    const prev = row - n;
    for (let j = 0; j < n; j++) c[row + j] = 1 / (diag[j] - c[prev + j]);
  }
  pivotCache = { n, lines, c };
  return c;
}

let pivotCache: { n: number; lines: number; c: Float64Array } | undefined;

/**
 * Solves all n systems of one channel in place (lines of length n, line k holding r̂(k) for
 * every frequency j, so the inner loops run along contiguous memory):
 *   forward  r'(k) = (r̂(k) − r'(k−1))·c(k),   back  û(k) = r'(k) − c(k)·û(k+1).
 */
function solveTridiagonal(data: Float64Array, offset: number, n: number, lines: number, c: Float64Array): void {
  for (let j = 0; j < n; j++) data[offset + j] *= c[j];
  for (let k = 1; k < lines; k++) {
    const row = offset + k * n;
    const prev = row - n;
    const cr = k * n;
    for (let j = 0; j < n; j++) data[row + j] = (data[row + j] - data[prev + j]) * c[cr + j];
  }
  for (let k = lines - 2; k >= 0; k--) {
    const row = offset + k * n;
    const next = row + n;
    const cr = k * n;
    for (let j = 0; j < n; j++) data[row + j] -= c[cr + j] * data[next + j];
  }
}

/** out = clamp(dst + scale·u, 0, 255) on the interior of `r`. */
function writeBack(out: Image, dst: Image, r: Rect, transposed: boolean, u: Float64Array, scale: number): void {
  const nx = r.width - 2;
  const ny = r.height - 2;
  const plane = nx * ny;
  const o = out.data;
  const d = dst.data;
  for (let y = 0; y < ny; y++) {
    let k = 3 * ((r.y + 1 + y) * dst.width + r.x + 1);
    for (let x = 0; x < nx; x++, k += 3) {
      const i = transposed ? x * ny + y : y * nx + x;
      o[k] = clamp255(d[k] + scale * u[i]);
      o[k + 1] = clamp255(d[k + 1] + scale * u[i + plane]);
      o[k + 2] = clamp255(d[k + 2] + scale * u[i + 2 * plane]);
    }
  }
}

/** Keeps a stray NaN/∞ in the inputs from spreading through the transforms to the whole box. */
function finiteOrZero(v: number): number {
  return v - v === 0 ? v : 0;
}

/** Clamps to [0, 255]; NaN becomes 0. */
function clamp255(v: number): number {
  return v >= 255 ? 255 : v > 0 ? v : 0;
}

