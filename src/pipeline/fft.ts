/**
 * A small, dependency-free FFT and the fast DST-I built on it (used by the Poisson solver).
 *
 * - `fft` / `ifft`: in-place complex transforms on split re/im Float64Arrays. Lengths whose only
 *   prime factors are 2, 3 and 5 run a mixed-radix (4, 2, 3, 5) Stockham autosort FFT; any other
 *   length goes through Bluestein's chirp-z algorithm (exact, but about 4-6x slower).
 * - `dst1` / `dst1Rows`: the type-I discrete sine transform
 *     S[k] = Σ_{j=1..N} x[j] · sin(π j k / (N + 1)),   k = 1..N   (1-based; the arrays are 0-based),
 *   computed with one complex FFT of length N + 1 for every two real rows.
 *   DST-I is its own inverse up to a factor: applying it twice gives x · (N + 1) / 2.
 * - `nextSmoothSize(n)`: the smallest m ≥ n whose DST-I runs on the fast path (m + 1 is 5-smooth).
 *
 * Plans (factorisations, twiddles, scratch buffers) are built once per length and cached per module
 * instance (so per worker thread); calls are synchronous, so two never share a scratch buffer.
 */

/** True when n ≥ 1 has no prime factor other than 2, 3 and 5. */
export function isSmooth(n: number): boolean {
  if (!Number.isInteger(n) || n < 1) return false;
  while (n % 2 === 0) n /= 2;
  while (n % 3 === 0) n /= 3;
  while (n % 5 === 0) n /= 5;
  return n === 1;
}

/** Smallest m ≥ n such that m + 1 is 5-smooth, so a DST-I of length m takes the fast path. */
export function nextSmoothSize(n: number): number {
  let m = Math.max(1, Math.ceil(n));
  while (!isSmooth(m + 1)) m++;
  return m;
}

/** Smallest 5-smooth m ≥ n. */
function nextSmooth(n: number): number {
  let m = Math.max(1, Math.ceil(n));
  while (!isSmooth(m)) m++;
  return m;
}

// ---------------------------------------------------------------------------------------------
// Stockham mixed-radix FFT
// ---------------------------------------------------------------------------------------------

/**
 * One decimation-in-frequency Stockham pass. With `len` the length of the sub-transforms at this
 * pass (len = radix · m) and `s` = n / len their number, the pass reads
 *   a_t = x[q + s·(p + t·m)],   t = 0..radix-1
 * and writes the radix-point DFT of (a_t), its output u multiplied by the twiddle w_len^(u·p), to
 *   y[q + s·(radix·p + u)]
 * for p < m, q < s. Each pass leaves the data in natural order for the next one (no bit reversal).
 */
interface Pass {
  readonly radix: 2 | 3 | 4 | 5;
  readonly m: number;
  readonly s: number;
  /** Twiddles w_len^(u·p), stored at [p·(radix−1) + (u−1)]. */
  readonly twRe: Float64Array;
  readonly twIm: Float64Array;
}

interface StockhamPlan {
  readonly kind: 'stockham';
  readonly n: number;
  readonly passes: readonly Pass[];
  readonly bufRe: Float64Array;
  readonly bufIm: Float64Array;
}

interface BluesteinPlan {
  readonly kind: 'bluestein';
  readonly n: number;
  /** Chirp w_k = exp(−iπ k² / n). */
  readonly wRe: Float64Array;
  readonly wIm: Float64Array;
  /** FFT (length `inner.n`) of the conjugate chirp, wrapped around, pre-scaled by 1 / inner.n. */
  readonly bRe: Float64Array;
  readonly bIm: Float64Array;
  readonly inner: StockhamPlan;
  readonly aRe: Float64Array;
  readonly aIm: Float64Array;
}

type FftPlan = StockhamPlan | BluesteinPlan;

const fftPlans = new Map<number, FftPlan>();

function getFftPlan(n: number): FftPlan {
  let plan = fftPlans.get(n);
  if (!plan) {
    plan = isSmooth(n) ? makeStockhamPlan(n) : makeBluesteinPlan(n);
    fftPlans.set(n, plan);
  }
  return plan;
}

function makeStockhamPlan(n: number): StockhamPlan {
  // Radix 4 first (fewest multiplications per point), then the leftovers.
  const radices: (2 | 3 | 4 | 5)[] = [];
  let rest = n;
  while (rest % 4 === 0) {
    radices.push(4);
    rest /= 4;
  }
  while (rest % 2 === 0) {
    radices.push(2);
    rest /= 2;
  }
  while (rest % 3 === 0) {
    radices.push(3);
    rest /= 3;
  }
  while (rest % 5 === 0) {
    radices.push(5);
    rest /= 5;
  }
  if (rest !== 1) throw new RangeError(`FFT length ${n} is not 5-smooth`);

  const passes: Pass[] = [];
  let len = n;
  let s = 1;
  for (const radix of radices) {
    const m = len / radix;
    const twRe = new Float64Array(m * (radix - 1));
    const twIm = new Float64Array(m * (radix - 1));
    for (let p = 0; p < m; p++) {
      for (let u = 1; u < radix; u++) {
        // Reduce u·p mod len before scaling so large lengths keep full precision.
        const angle = (-2 * Math.PI * ((u * p) % len)) / len;
        twRe[p * (radix - 1) + u - 1] = Math.cos(angle);
        twIm[p * (radix - 1) + u - 1] = Math.sin(angle);
      }
    }
    passes.push({ radix, m, s, twRe, twIm });
    len = m;
    s *= radix;
  }
  return { kind: 'stockham', n, passes, bufRe: new Float64Array(n), bufIm: new Float64Array(n) };
}

const SIN_60 = Math.sqrt(3) / 2;
const C1_5 = Math.cos((2 * Math.PI) / 5);
const C2_5 = Math.cos((4 * Math.PI) / 5);
const S1_5 = Math.sin((2 * Math.PI) / 5);
const S2_5 = Math.sin((4 * Math.PI) / 5);

function radix2(xr: Float64Array, xi: Float64Array, yr: Float64Array, yi: Float64Array, pass: Pass): void {
  const { m, s, twRe, twIm } = pass;
  const sm = s * m;
  for (let p = 0; p < m; p++) {
    const w1r = twRe[p];
    const w1i = twIm[p];
    const inBase = s * p;
    const outBase = 2 * s * p;
    for (let q = 0; q < s; q++) {
      const i0 = inBase + q;
      const i1 = i0 + sm;
      const ar = xr[i0], ai = xi[i0], br = xr[i1], bi = xi[i1];
      const o = outBase + q;
      yr[o] = ar + br;
      yi[o] = ai + bi;
      const dr = ar - br, di = ai - bi;
      yr[o + s] = dr * w1r - di * w1i;
      yi[o + s] = dr * w1i + di * w1r;
    }
  }
}

function radix3(xr: Float64Array, xi: Float64Array, yr: Float64Array, yi: Float64Array, pass: Pass): void {
  const { m, s, twRe, twIm } = pass;
  const sm = s * m;
  for (let p = 0; p < m; p++) {
    const w1r = twRe[2 * p], w1i = twIm[2 * p];
    const w2r = twRe[2 * p + 1], w2i = twIm[2 * p + 1];
    const inBase = s * p;
    const outBase = 3 * s * p;
    for (let q = 0; q < s; q++) {
      const i0 = inBase + q;
      const i1 = i0 + sm;
      const i2 = i1 + sm;
      const a0r = xr[i0], a0i = xi[i0];
      const a1r = xr[i1], a1i = xi[i1];
      const a2r = xr[i2], a2i = xi[i2];
      // b0 = a0 + (a1 + a2); b1,2 = a0 − (a1 + a2)/2 ∓ i·(√3/2)·(a1 − a2)
      const tr = a1r + a2r, ti = a1i + a2i;
      const mr = a0r - 0.5 * tr, mi = a0i - 0.5 * ti;
      const dr = SIN_60 * (a1i - a2i), di = -SIN_60 * (a1r - a2r);
      const o = outBase + q;
      yr[o] = a0r + tr;
      yi[o] = a0i + ti;
      const b1r = mr + dr, b1i = mi + di;
      const b2r = mr - dr, b2i = mi - di;
      yr[o + s] = b1r * w1r - b1i * w1i;
      yi[o + s] = b1r * w1i + b1i * w1r;
      yr[o + 2 * s] = b2r * w2r - b2i * w2i;
      yi[o + 2 * s] = b2r * w2i + b2i * w2r;
    }
  }
}

function radix4(xr: Float64Array, xi: Float64Array, yr: Float64Array, yi: Float64Array, pass: Pass): void {
  const { m, s, twRe, twIm } = pass;
  const sm = s * m;
  for (let p = 0; p < m; p++) {
    const w1r = twRe[3 * p], w1i = twIm[3 * p];
    const w2r = twRe[3 * p + 1], w2i = twIm[3 * p + 1];
    const w3r = twRe[3 * p + 2], w3i = twIm[3 * p + 2];
    const inBase = s * p;
    const outBase = 4 * s * p;
    for (let q = 0; q < s; q++) {
      const i0 = inBase + q;
      const i1 = i0 + sm;
      const i2 = i1 + sm;
      const i3 = i2 + sm;
      const a0r = xr[i0], a0i = xi[i0];
      const a1r = xr[i1], a1i = xi[i1];
      const a2r = xr[i2], a2i = xi[i2];
      const a3r = xr[i3], a3i = xi[i3];
      const s02r = a0r + a2r, s02i = a0i + a2i;
      const d02r = a0r - a2r, d02i = a0i - a2i;
      const s13r = a1r + a3r, s13i = a1i + a3i;
      const d13r = a1r - a3r, d13i = a1i - a3i;
      const o = outBase + q;
      yr[o] = s02r + s13r;
      yi[o] = s02i + s13i;
      // b1 = d02 − i·d13, b2 = s02 − s13, b3 = d02 + i·d13
      const b1r = d02r + d13i, b1i = d02i - d13r;
      const b2r = s02r - s13r, b2i = s02i - s13i;
      const b3r = d02r - d13i, b3i = d02i + d13r;
      yr[o + s] = b1r * w1r - b1i * w1i;
      yi[o + s] = b1r * w1i + b1i * w1r;
      yr[o + 2 * s] = b2r * w2r - b2i * w2i;
      yi[o + 2 * s] = b2r * w2i + b2i * w2r;
      yr[o + 3 * s] = b3r * w3r - b3i * w3i;
      yi[o + 3 * s] = b3r * w3i + b3i * w3r;
    }
  }
}

function radix5(xr: Float64Array, xi: Float64Array, yr: Float64Array, yi: Float64Array, pass: Pass): void {
  const { m, s, twRe, twIm } = pass;
  const sm = s * m;
  for (let p = 0; p < m; p++) {
    const w1r = twRe[4 * p], w1i = twIm[4 * p];
    const w2r = twRe[4 * p + 1], w2i = twIm[4 * p + 1];
    const w3r = twRe[4 * p + 2], w3i = twIm[4 * p + 2];
    const w4r = twRe[4 * p + 3], w4i = twIm[4 * p + 3];
    const inBase = s * p;
    const outBase = 5 * s * p;
    for (let q = 0; q < s; q++) {
      const i0 = inBase + q;
      const i1 = i0 + sm;
      const i2 = i1 + sm;
      const i3 = i2 + sm;
      const i4 = i3 + sm;
      const a0r = xr[i0], a0i = xi[i0];
      const t1r = xr[i1] + xr[i4], t1i = xi[i1] + xi[i4];
      const t2r = xr[i2] + xr[i3], t2i = xi[i2] + xi[i3];
      const t3r = xr[i1] - xr[i4], t3i = xi[i1] - xi[i4];
      const t4r = xr[i2] - xr[i3], t4i = xi[i2] - xi[i3];
      // b1,4 = m1 ∓ i·n1 and b2,3 = m2 ∓ i·n2 with
      // m1 = a0 + c1·t1 + c2·t2, n1 = s1·t3 + s2·t4, m2 = a0 + c2·t1 + c1·t2, n2 = s2·t3 − s1·t4.
      const m1r = a0r + C1_5 * t1r + C2_5 * t2r, m1i = a0i + C1_5 * t1i + C2_5 * t2i;
      const m2r = a0r + C2_5 * t1r + C1_5 * t2r, m2i = a0i + C2_5 * t1i + C1_5 * t2i;
      const n1r = S1_5 * t3r + S2_5 * t4r, n1i = S1_5 * t3i + S2_5 * t4i;
      const n2r = S2_5 * t3r - S1_5 * t4r, n2i = S2_5 * t3i - S1_5 * t4i;
      const o = outBase + q;
      yr[o] = a0r + t1r + t2r;
      yi[o] = a0i + t1i + t2i;
      const b1r = m1r + n1i, b1i = m1i - n1r;
      const b4r = m1r - n1i, b4i = m1i + n1r;
      const b2r = m2r + n2i, b2i = m2i - n2r;
      const b3r = m2r - n2i, b3i = m2i + n2r;
      yr[o + s] = b1r * w1r - b1i * w1i;
      yi[o + s] = b1r * w1i + b1i * w1r;
      yr[o + 2 * s] = b2r * w2r - b2i * w2i;
      yi[o + 2 * s] = b2r * w2i + b2i * w2r;
      yr[o + 3 * s] = b3r * w3r - b3i * w3i;
      yi[o + 3 * s] = b3r * w3i + b3i * w3r;
      yr[o + 4 * s] = b4r * w4r - b4i * w4i;
      yi[o + 4 * s] = b4r * w4i + b4i * w4r;
    }
  }
}

/** Forward FFT of the first plan.n values of re/im, in place. */
function runStockham(plan: StockhamPlan, re: Float64Array, im: Float64Array): void {
  let xr = re, xi = im, yr = plan.bufRe, yi = plan.bufIm;
  for (const pass of plan.passes) {
    switch (pass.radix) {
      case 4:
        radix4(xr, xi, yr, yi, pass);
        break;
      case 2:
        radix2(xr, xi, yr, yi, pass);
        break;
      case 3:
        radix3(xr, xi, yr, yi, pass);
        break;
      case 5:
        radix5(xr, xi, yr, yi, pass);
        break;
    }
    const tr = xr, ti = xi;
    xr = yr;
    xi = yi;
    yr = tr;
    yi = ti;
  }
  if (xr !== re) {
    re.set(xr.subarray(0, plan.n));
    im.set(xi.subarray(0, plan.n));
  }
}

// ---------------------------------------------------------------------------------------------
// Bluestein (chirp-z) for any other length
// ---------------------------------------------------------------------------------------------

/**
 * With jk = (j² + k² − (k − j)²) / 2, the DFT becomes a convolution:
 *   X_k = w_k · Σ_j (x_j · w_j) · conj(w_{k−j}),   w_k = exp(−iπ k² / n),
 * evaluated as a cyclic convolution of length M ≥ 2n − 1 (5-smooth) with the fast FFT.
 */
function makeBluesteinPlan(n: number): BluesteinPlan {
  const size = nextSmooth(2 * n - 1);
  const inner = makeStockhamPlan(size);
  const wRe = new Float64Array(n);
  const wIm = new Float64Array(n);
  const period = 2 * n;
  // k² mod 2n keeps the angle small (exp(−iπ k²/n) has period 2n in k²); (k+1)² = k² + 2k + 1.
  for (let k = 0, k2 = 0; k < n; k++) {
    const angle = (-Math.PI * k2) / n;
    wRe[k] = Math.cos(angle);
    wIm[k] = Math.sin(angle);
    k2 = (k2 + 2 * k + 1) % period;
  }
  const bRe = new Float64Array(size);
  const bIm = new Float64Array(size);
  bRe[0] = wRe[0];
  bIm[0] = -wIm[0];
  for (let k = 1; k < n; k++) {
    bRe[k] = bRe[size - k] = wRe[k];
    bIm[k] = bIm[size - k] = -wIm[k];
  }
  runStockham(inner, bRe, bIm);
  const scale = 1 / size;
  for (let k = 0; k < size; k++) {
    bRe[k] *= scale;
    bIm[k] *= scale;
  }
  return { kind: 'bluestein', n, wRe, wIm, bRe, bIm, inner, aRe: new Float64Array(size), aIm: new Float64Array(size) };
}

function runBluestein(plan: BluesteinPlan, re: Float64Array, im: Float64Array): void {
  const { n, wRe, wIm, bRe, bIm, inner, aRe, aIm } = plan;
  const size = inner.n;
  for (let k = 0; k < n; k++) {
    const xr = re[k], xi = im[k];
    aRe[k] = xr * wRe[k] - xi * wIm[k];
    aIm[k] = xr * wIm[k] + xi * wRe[k];
  }
  aRe.fill(0, n);
  aIm.fill(0, n);
  runStockham(inner, aRe, aIm);
  for (let k = 0; k < size; k++) {
    const ar = aRe[k], ai = aIm[k];
    aRe[k] = ar * bRe[k] - ai * bIm[k];
    aIm[k] = ar * bIm[k] + ai * bRe[k];
  }
  // Inverse FFT by swapping re and im around a forward one (the 1 / size is folded into b).
  runStockham(inner, aIm, aRe);
  for (let k = 0; k < n; k++) {
    const cr = aRe[k], ci = aIm[k];
    re[k] = cr * wRe[k] - ci * wIm[k];
    im[k] = cr * wIm[k] + ci * wRe[k];
  }
}

function run(plan: FftPlan, re: Float64Array, im: Float64Array): void {
  if (plan.kind === 'stockham') runStockham(plan, re, im);
  else runBluestein(plan, re, im);
}

function checkPair(re: Float64Array, im: Float64Array): void {
  if (re.length !== im.length) {
    throw new RangeError(`re and im lengths differ (${re.length} and ${im.length})`);
  }
}

/** Forward DFT in place: X_k = Σ_j x_j · exp(−2πi jk / n), n = re.length (any n ≥ 1). */
export function fft(re: Float64Array, im: Float64Array): void {
  checkPair(re, im);
  if (re.length <= 1) return;
  run(getFftPlan(re.length), re, im);
}

/** Inverse DFT in place, normalised: x_j = (1/n) Σ_k X_k · exp(+2πi jk / n). */
export function ifft(re: Float64Array, im: Float64Array): void {
  checkPair(re, im);
  const n = re.length;
  if (n <= 1) return;
  // Swapping re and im conjugates-and-rotates: forward FFT of the swapped pair is the
  // unnormalised inverse of the original, left swapped back in place.
  run(getFftPlan(n), im, re);
  const scale = 1 / n;
  for (let k = 0; k < n; k++) {
    re[k] *= scale;
    im[k] *= scale;
  }
}

// ---------------------------------------------------------------------------------------------
// DST-I
// ---------------------------------------------------------------------------------------------

interface DstPlan {
  readonly n: number;
  readonly fft: FftPlan;
  /** sin(π j / (n + 1)) at [j], j = 0..n. */
  readonly sin: Float64Array;
  readonly re: Float64Array;
  readonly im: Float64Array;
}

const dstPlans = new Map<number, DstPlan>();

function getDstPlan(n: number): DstPlan {
  let plan = dstPlans.get(n);
  if (!plan) {
    const size = n + 1;
    const sin = new Float64Array(size);
    for (let j = 1; j < size; j++) sin[j] = Math.sin((Math.PI * j) / size);
    plan = { n, fft: getFftPlan(size), sin, re: new Float64Array(size), im: new Float64Array(size) };
    dstPlans.set(n, plan);
  }
  return plan;
}

/**
 * Pre-twist of one row (Numerical Recipes' `sinft` idea), with f_j = row[j − 1], f_0 = f_M = 0:
 *   y_0 = 0,  y_j = sin(πj/M)·(f_j + f_{M−j}) + ½·(f_j − f_{M−j}),  M = n + 1.
 * Then, with Y = DFT(y) = R − i·I:  I_k = S_{2k}  and  R_k = S_{2k+1} − S_{2k−1}.
 */
function twistRow(data: Float64Array, start: number, plan: DstPlan, out: Float64Array): void {
  const { n, sin } = plan;
  const size = n + 1;
  out[0] = 0;
  const last = start + n - 1;
  for (let j = 1, half = size >> 1; j <= half; j++) {
    const fj = data[start + j - 1];
    const fr = data[last - j + 1];
    const sym = sin[j] * (fj + fr);
    const anti = 0.5 * (fj - fr);
    out[j] = sym + anti;
    out[size - j] = sym - anti;
  }
}

/**
 * DST-I of `rows` consecutive rows of length n stored from `offset` in `data`, in place.
 * Two real rows share one complex FFT of length n + 1 (row a in re, row b in im), separated by
 * the conjugate symmetry of real transforms:
 *   Y_a[k] = (Z[k] + conj Z[M−k]) / 2,   Y_b[k] = (Z[k] − conj Z[M−k]) / (2i).
 */
export function dst1Rows(data: Float64Array, n: number, rows: number, offset = 0): void {
  if (n < 1 || rows < 1) return;
  if (offset < 0 || offset + n * rows > data.length) {
    throw new RangeError(`dst1Rows: ${rows} rows of ${n} from ${offset} exceed ${data.length} values`);
  }
  if (n === 1) return; // S_1 = x_1 · sin(π/2)
  const plan = getDstPlan(n);
  const { re, im } = plan;
  const size = n + 1;
  let row = 0;
  for (; row + 1 < rows; row += 2) {
    const a = offset + row * n;
    const b = a + n;
    twistRow(data, a, plan, re);
    twistRow(data, b, plan, im);
    run(plan.fft, re, im);
    untwistPair(data, a, b, n, size, re, im);
  }
  if (row < rows) {
    const a = offset + row * n;
    twistRow(data, a, plan, re);
    im.fill(0);
    run(plan.fft, re, im);
    untwistPair(data, a, -1, n, size, re, im);
  }
}

/** Splits Z = DFT(y_a + i·y_b) and untwists both rows (b < 0: only row a). */
function untwistPair(
  data: Float64Array,
  a: number,
  b: number,
  n: number,
  size: number,
  zr: Float64Array,
  zi: Float64Array,
): void {
  // Row a: R_k = (Zr_k + Zr_{M−k}) / 2, I_k = (Zi_{M−k} − Zi_k) / 2 (R_0 = Zr_0).
  // Row b: R_k = (Zi_k + Zi_{M−k}) / 2, I_k = (Zr_k − Zr_{M−k}) / 2 (R_0 = Zi_0).
  let accA = 0.5 * zr[0];
  let accB = 0.5 * zi[0];
  data[a] = accA;
  if (b >= 0) data[b] = accB;
  for (let k = 1; 2 * k <= n; k++) {
    const rk = zr[k], ik = zi[k], rm = zr[size - k], im = zi[size - k];
    data[a + 2 * k - 1] = 0.5 * (im - ik);
    if (b >= 0) data[b + 2 * k - 1] = 0.5 * (rk - rm);
    if (2 * k + 1 <= n) {
      accA += 0.5 * (rk + rm);
      data[a + 2 * k] = accA;
      if (b >= 0) {
        accB += 0.5 * (ik + im);
        data[b + 2 * k] = accB;
      }
    }
  }
}

/** DST-I of x in place (see the module comment for the definition). */
export function dst1(x: Float64Array): void {
  dst1Rows(x, x.length, 1);
}
