import { describe, it, expect } from 'vitest';
import { dst1, dst1Rows, fft, ifft, isSmooth, nextSmoothSize } from '#src/pipeline/fft.ts';
import { seededRandom } from '../helpers/random.ts';

/** Deterministic pseudo-random values in [-1, 1). */
function random(seed: number): () => number {
  const next = seededRandom(seed);
  return () => next() * 2 - 1;
}

function randomArray(n: number, rand: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rand();
  return out;
}

function naiveDft(re: Float64Array, im: Float64Array): [Float64Array, Float64Array] {
  const n = re.length;
  const outRe = new Float64Array(n);
  const outIm = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let sr = 0;
    let si = 0;
    for (let j = 0; j < n; j++) {
      const angle = (-2 * Math.PI * ((j * k) % n)) / n;
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      sr += re[j] * c - im[j] * s;
      si += re[j] * s + im[j] * c;
    }
    outRe[k] = sr;
    outIm[k] = si;
  }
  return [outRe, outIm];
}

function naiveDst1(x: Float64Array): Float64Array {
  const n = x.length;
  const out = new Float64Array(n);
  for (let k = 1; k <= n; k++) {
    let sum = 0;
    for (let j = 1; j <= n; j++) sum += x[j - 1] * Math.sin((Math.PI * j * k) / (n + 1));
    out[k - 1] = sum;
  }
  return out;
}

/** max |a − b| / max |b| (or the absolute error when b is all zero). */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale > 0 ? err / scale : err;
}

function complexRelativeError(re: Float64Array, im: Float64Array, refRe: Float64Array, refIm: Float64Array): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < refRe.length; i++) {
    err = Math.max(err, Math.hypot(re[i] - refRe[i], im[i] - refIm[i]));
    scale = Math.max(scale, Math.hypot(refRe[i], refIm[i]));
  }
  return scale > 0 ? err / scale : err;
}

// 5-smooth lengths take the Stockham path; 7, 11, 97, 255 and 511 go through Bluestein.
const FFT_LENGTHS = [1, 2, 3, 4, 5, 6, 8, 9, 12, 16, 25, 30, 60, 64, 100, 120, 7, 11, 97, 255, 511];

describe('fft', () => {
  it.each(FFT_LENGTHS)('matches a naive DFT for length %i', (n) => {
    const rand = random(n);
    const re = randomArray(n, rand);
    const im = randomArray(n, rand);
    const [refRe, refIm] = naiveDft(re, im);
    fft(re, im);
    expect(complexRelativeError(re, im, refRe, refIm)).toBeLessThan(1e-9);
  });

  it('transforms a unit impulse to all ones and a pure tone to a single bin', () => {
    const n = 60;
    const re = new Float64Array(n);
    const im = new Float64Array(n);
    re[0] = 1;
    fft(re, im);
    for (let k = 0; k < n; k++) {
      expect(re[k]).toBeCloseTo(1, 12);
      expect(im[k]).toBeCloseTo(0, 12);
    }
    // exp(+2πi·7j/n) lands entirely in bin 7 with magnitude n.
    for (let j = 0; j < n; j++) {
      re[j] = Math.cos((2 * Math.PI * 7 * j) / n);
      im[j] = Math.sin((2 * Math.PI * 7 * j) / n);
    }
    fft(re, im);
    for (let k = 0; k < n; k++) {
      expect(re[k]).toBeCloseTo(k === 7 ? n : 0, 9);
      expect(im[k]).toBeCloseTo(0, 9);
    }
  });

  it.each([1, 2, 12, 120, 97, 1000])('ifft inverts fft for length %i', (n) => {
    const rand = random(1000 + n);
    const re = randomArray(n, rand);
    const im = randomArray(n, rand);
    const re0 = re.slice();
    const im0 = im.slice();
    fft(re, im);
    ifft(re, im);
    expect(relativeError(re, re0)).toBeLessThan(1e-12);
    expect(relativeError(im, im0)).toBeLessThan(1e-12);
  });

  it('gives the same answer on a reused plan', () => {
    const rand = random(5);
    const re = randomArray(30, rand);
    const im = randomArray(30, rand);
    const a = [re.slice(), im.slice()] as const;
    const b = [re.slice(), im.slice()] as const;
    fft(a[0], a[1]);
    fft(b[0], b[1]);
    expect(Array.from(b[0])).toEqual(Array.from(a[0]));
    expect(Array.from(b[1])).toEqual(Array.from(a[1]));
  });

  it('rejects re and im of different lengths', () => {
    expect(() => fft(new Float64Array(4), new Float64Array(5))).toThrow(RangeError);
  });
});

// N + 1 5-smooth (fast path) and not (Bluestein underneath).
const DST_LENGTHS = [1, 2, 3, 4, 5, 7, 9, 11, 14, 15, 29, 31, 59, 63, 99, 100, 254, 255, 510];

describe('dst1', () => {
  it.each(DST_LENGTHS)('matches the O(N²) definition for length %i', (n) => {
    const x = randomArray(n, random(7 * n));
    const ref = naiveDst1(x);
    dst1(x);
    expect(relativeError(x, ref)).toBeLessThan(1e-9);
  });

  it.each(DST_LENGTHS)('applied twice gives the input times (N + 1) / 2 for length %i', (n) => {
    const x0 = randomArray(n, random(11 * n));
    const x = x0.slice();
    dst1(x);
    dst1(x);
    const expected = x0.map((v) => (v * (n + 1)) / 2);
    expect(relativeError(x, expected)).toBeLessThan(1e-9);
  });

  it('transforms every row of a batch, odd row counts and offsets included', () => {
    const n = 14;
    const rows = 5;
    const offset = 3;
    const rand = random(99);
    const data = randomArray(offset + n * rows + 2, rand);
    const before = data.slice();
    dst1Rows(data, n, rows, offset);
    for (let r = 0; r < rows; r++) {
      const start = offset + r * n;
      const ref = naiveDst1(before.subarray(start, start + n));
      expect(relativeError(data.subarray(start, start + n), ref)).toBeLessThan(1e-9);
    }
    // Values outside the rows are untouched.
    expect(Array.from(data.subarray(0, offset))).toEqual(Array.from(before.subarray(0, offset)));
    expect(Array.from(data.subarray(offset + n * rows))).toEqual(Array.from(before.subarray(offset + n * rows)));
  });

  it('rejects rows that run past the end of the array', () => {
    expect(() => dst1Rows(new Float64Array(10), 4, 3)).toThrow(RangeError);
  });

  it('maps a single sine mode to a single coefficient', () => {
    const n = 31;
    const mode = 5;
    const x = new Float64Array(n);
    for (let j = 1; j <= n; j++) x[j - 1] = Math.sin((Math.PI * j * mode) / (n + 1));
    dst1(x);
    for (let k = 1; k <= n; k++) expect(x[k - 1]).toBeCloseTo(k === mode ? (n + 1) / 2 : 0, 9);
  });
});

describe('nextSmoothSize', () => {
  it('returns the smallest m ≥ n with m + 1 having only the factors 2, 3 and 5', () => {
    const wrong: number[] = [];
    for (let n = 1; n <= 2000; n++) {
      const m = nextSmoothSize(n);
      let ok = m >= n && isSmooth(m + 1);
      for (let k = n; k < m && ok; k++) ok = !isSmooth(k + 1);
      if (!ok) wrong.push(n);
    }
    expect(wrong).toEqual([]);
  });

  it('knows some values', () => {
    expect(nextSmoothSize(1)).toBe(1);
    expect(nextSmoothSize(6)).toBe(7);
    expect(nextSmoothSize(254)).toBe(255);
    expect(nextSmoothSize(510)).toBe(511);
    expect(nextSmoothSize(512)).toBe(539);
    expect(nextSmoothSize(766)).toBe(767);
  });

  it('isSmooth recognises 5-smooth numbers', () => {
    expect([1, 2, 3, 4, 5, 6, 8, 30, 512, 1000].every(isSmooth)).toBe(true);
    expect([0, -4, 7, 14, 511, 1.5].some(isSmooth)).toBe(false);
  });
});
