/**
 * The shape of a sticker, on plain pixel planes (no models): the person's silhouette cleaned up
 * (the chosen person's regions only, small and uncertain holes filled, jaggies smoothed), and the
 * die-cut layers drawn from it at the output size: the person inset a little (so no fringe of the
 * photo's background shows), a white outline following the silhouette, and a soft drop shadow.
 *
 * Distances are exact Euclidean distance transforms (Felzenszwalb & Huttenlocher), so the outline is
 * a true round dilation whatever its width; its whole-pixel steps are smoothed into anti-aliased
 * edges (`smoothEdge`).
 */
import { gaussianBlur } from './filters.ts';
import { labelRegions } from './person-split.ts';

/** Plane sizes in pixels. */
export interface PlaneSize {
  width: number;
  height: number;
}

/**
 * Euclidean distance from every pixel to the nearest pixel where `sites` is non-zero (0 on a site;
 * a large number when there is no site at all).
 */
export function distanceTransform(sites: Uint8Array, width: number, height: number): Float32Array {
  const INF = 1e20;
  const n = Math.max(width, height);
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  // Columns first, on a transposed copy so each line is contiguous; the squared distance separates by axis.
  const columns = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) columns[x * height + y] = sites[row + x] ? 0 : INF;
  }
  for (let x = 0; x < width; x++) {
    const line = columns.subarray(x * height, (x + 1) * height);
    squaredDistance1d(line, height, d, v, z);
    line.set(d.subarray(0, height));
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) f[x] = columns[x * height + y];
    squaredDistance1d(f, width, d, v, z);
    for (let x = 0; x < width; x++) out[row + x] = Math.sqrt(d[x]);
  }
  return out;
}

/** Lower envelope of parabolas: d[q] = min over p of (q − p)² + f[p]. */
function squaredDistance1d(f: Float64Array, n: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    // z[0] is −∞, so k never drops below 0.
    let s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * (q - v[k]));
    while (s <= z[k]) {
      k--;
      s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * (q - v[k]));
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    const p = v[k];
    d[q] = (q - p) * (q - p) + f[p];
  }
}

export interface SilhouetteOptions {
  /** Soft values above this are the person (0..1). */
  threshold?: number;
  /**
   * Which regions (8-connected, above the threshold) are the chosen person: given the regions and
   * each pixel's region (`labels`, −1 outside every region), answers the ones to keep. Default: all.
   */
  keep?: (regions: Region[], labels: Int32Array) => Region[];
  /**
   * Holes (background regions the silhouette closes round) are filled when smaller than this share
   * of the silhouette, or when the soft mask inside them averages above `uncertain` (the segmenter
   * was unsure there: part of the clothes, not a gap to the wall behind).
   */
  smallHole?: number;
  uncertain?: number;
  /** Contour smoothing (Gaussian sigma in pixels) before the final threshold. */
  smooth?: number;
}

export interface Region {
  label: number;
  /** Its pixel count. */
  area: number;
}

/**
 * The person as a field whose 0.5 level is their outline (0..1, smooth, fully 1 inside), from a soft
 * person mask: thresholded, reduced to the regions `keep` picks, holes filled, the contour smoothed.
 * Returns undefined when no region is kept.
 */
export function silhouette(soft: Float32Array, size: PlaneSize, options: SilhouetteOptions = {}): Float32Array | undefined {
  const { width, height } = size;
  const n = width * height;
  const threshold = options.threshold ?? 0.5;
  const { labels, count } = labelRegions(soft, width, height, threshold);
  if (count === 0) return undefined;
  const regions: Region[] = Array.from({ length: count }, (_, label) => ({ label, area: 0 }));
  for (let p = 0; p < n; p++) if (labels[p] >= 0) regions[labels[p]].area++;
  const kept = options.keep ? options.keep(regions, labels) : regions;
  if (kept.length === 0) return undefined;
  const keepLabel = new Uint8Array(count);
  for (const r of kept) keepLabel[r.label] = 1;
  const inside = new Float32Array(n);
  let area = 0;
  for (let p = 0; p < n; p++) {
    if (labels[p] >= 0 && keepLabel[labels[p]]) {
      inside[p] = 1;
      area++;
    }
  }
  fillHoles(inside, soft, size, area * (options.smallHole ?? 0.004), options.uncertain ?? 0.2);
  const smooth = options.smooth ?? 0;
  return smooth > 0.3 ? gaussianBlur(inside, width, height, smooth) : inside;
}

/**
 * Fills (in place) the background regions of a 0/1 plane that do not reach the border (4-connected)
 * and are either smaller than `maxArea` or averaged above `uncertain` in `soft`.
 */
export function fillHoles(inside: Float32Array, soft: Float32Array, size: PlaneSize, maxArea: number, uncertain: number): void {
  const { width, height } = size;
  const n = width * height;
  const seen = new Uint8Array(n);
  // Each region's pixels in visiting order: a stack that is never popped below where it started.
  const members = new Int32Array(n);
  for (let start = 0; start < n; start++) {
    if (seen[start] || inside[start] > 0.5) continue;
    let count = 0;
    let next = 0;
    let open = false;
    let sum = 0;
    seen[start] = 1;
    members[count++] = start;
    while (next < count) {
      const p = members[next++];
      sum += soft[p];
      const x = p % width;
      const y = (p - x) / width;
      if (x === 0 || y === 0 || x === width - 1 || y === height - 1) open = true;
      // The four neighbours; a background pixel not seen yet joins the region.
      for (let k = 0; k < 4; k++) {
        const q = k === 0 ? (x > 0 ? p - 1 : -1) : k === 1 ? (x < width - 1 ? p + 1 : -1) : k === 2 ? (y > 0 ? p - width : -1) : y < height - 1 ? p + width : -1;
        if (q < 0 || seen[q] || inside[q] > 0.5) continue;
        seen[q] = 1;
        members[count++] = q;
      }
    }
    if (!open && (count < maxArea || sum / count > uncertain)) {
      for (let i = 0; i < count; i++) inside[members[i]] = 1;
    }
  }
}

/** Die-cut sizes in output pixels. */
export interface DieCutSpec {
  /** White outline width. */
  outline: number;
  /** Extra rounding of the outline: concave bends narrower than about this are bridged. */
  rounding: number;
  /** The person's edge is pulled in by this much under the outline (hides the photo's fringe). */
  inset: number;
  /**
   * Inside the person's edge, a band this wide takes its colours from further in (the model and the
   * mask leave a little of the photo's background there, which shows as a light or dark rim).
   */
  edge: number;
  shadow: { dx: number; dy: number; sigma: number; opacity: number };
}

export interface DieCutLayers {
  /** The person's opacity (0..1), output size. */
  person: Float32Array;
  /** The white outline's opacity, including under the person. */
  outline: Float32Array;
  /** The shadow's opacity (already times `opacity`). */
  shadow: Float32Array;
  /** 1 where the person's colours are trusted (further in than `inset` + `edge`), 0 outside it. */
  core: Float32Array;
}

/** Where the art lies on the canvas: canvas = art · scale + (x, y), in pixels. */
export interface Placement {
  scale: number;
  x: number;
  y: number;
}

/**
 * The die-cut layers on a canvas of `size`, from the silhouette `field` (≥ 0.5 inside the person, at
 * the art's size) placed on it by `placement`.
 */
export function dieCut(field: Float32Array, fieldSize: PlaneSize, placement: Placement, size: PlaneSize, spec: DieCutSpec): DieCutLayers {
  const { width, height } = size;
  const n = width * height;
  const placed = place(field, fieldSize, placement, size);
  const person = new Uint8Array(n);
  const outsidePerson = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    const inside = placed[p] >= 0.5;
    person[p] = inside ? 1 : 0;
    outsidePerson[p] = inside ? 0 : 1;
  }
  // Closing of the dilated silhouette: grow by outline + rounding, shrink back by rounding.
  const toPerson = distanceTransform(person, width, height);
  const grow = spec.outline + spec.rounding;
  const outsideGrown = new Uint8Array(n);
  for (let p = 0; p < n; p++) outsideGrown[p] = toPerson[p] > grow ? 1 : 0;
  const toOutside = distanceTransform(outsideGrown, width, height);
  const toBackground = distanceTransform(outsidePerson, width, height);
  const outline = new Float32Array(n);
  const personAlpha = new Float32Array(n);
  const core = new Float32Array(n);
  const deep = spec.inset + spec.edge;
  for (let p = 0; p < n; p++) {
    outline[p] = clamp01(toOutside[p] - spec.rounding + 0.5);
    personAlpha[p] = clamp01(toBackground[p] - spec.inset - 0.5);
    core[p] = clamp01(toBackground[p] - deep - 0.5);
  }
  const smoothOutline = smoothEdge(outline, size);
  return {
    person: smoothEdge(personAlpha, size),
    outline: smoothOutline,
    shadow: dropShadow(smoothOutline, size, spec.shadow),
    core,
  };
}

/**
 * An edge drawn on whole-pixel distances, smoothed: a slight blur turns its steps into a smooth
 * ramp, and the ramp is steepened back to about a pixel round the same 0.5 level.
 */
function smoothEdge(alpha: Float32Array, size: PlaneSize): Float32Array {
  const sigma = 0.8;
  const blurred = gaussianBlur(alpha, size.width, size.height, sigma);
  const gain = sigma * Math.sqrt(2 * Math.PI);
  for (let i = 0; i < blurred.length; i++) blurred[i] = clamp01((blurred[i] - 0.5) * gain + 0.5);
  return blurred;
}

/** Bilinear resampling of a plane placed on a larger canvas (0 off the plane); separable tables. */
function place(plane: Float32Array, size: PlaneSize, at: Placement, canvas: PlaneSize): Float32Array {
  const axis = (length: number, inLength: number, offset: number) => {
    const i0 = new Int32Array(length);
    const w0 = new Float32Array(length);
    const w1 = new Float32Array(length);
    for (let o = 0; o < length; o++) {
      const f = (o + 0.5 - offset) / at.scale - 0.5;
      const lo = Math.floor(f);
      const t = f - lo;
      i0[o] = lo;
      // A neighbour off the plane counts as 0.
      w0[o] = lo >= 0 && lo < inLength ? 1 - t : 0;
      w1[o] = lo + 1 >= 0 && lo + 1 < inLength ? t : 0;
    }
    return { i0, w0, w1 };
  };
  const xs = axis(canvas.width, size.width, at.x);
  const ys = axis(canvas.height, size.height, at.y);
  const out = new Float32Array(canvas.width * canvas.height);
  const { width } = size;
  for (let y = 0; y < canvas.height; y++) {
    const wy0 = ys.w0[y];
    const wy1 = ys.w1[y];
    if (wy0 === 0 && wy1 === 0) continue;
    const r0 = ys.i0[y] * width;
    const r1 = r0 + width;
    const o = y * canvas.width;
    for (let x = 0; x < canvas.width; x++) {
      const wx0 = xs.w0[x];
      const wx1 = xs.w1[x];
      if (wx0 === 0 && wx1 === 0) continue;
      const c = xs.i0[x];
      let v = 0;
      if (wy0 !== 0) v += wy0 * ((wx0 !== 0 ? wx0 * plane[r0 + c] : 0) + (wx1 !== 0 ? wx1 * plane[r0 + c + 1] : 0));
      if (wy1 !== 0) v += wy1 * ((wx0 !== 0 ? wx0 * plane[r1 + c] : 0) + (wx1 !== 0 ? wx1 * plane[r1 + c + 1] : 0));
      out[o + x] = v;
    }
  }
  return out;
}

/** The outline's shape moved by (dx, dy), blurred, times `opacity`. */
function dropShadow(shape: Float32Array, size: PlaneSize, shadow: DieCutSpec['shadow']): Float32Array {
  const { width, height } = size;
  const moved = new Float32Array(width * height);
  const dx = Math.round(shadow.dx);
  const dy = Math.round(shadow.dy);
  for (let y = Math.max(0, dy); y < Math.min(height, height + dy); y++) {
    for (let x = Math.max(0, dx); x < Math.min(width, width + dx); x++) {
      moved[y * width + x] = shape[(y - dy) * width + (x - dx)];
    }
  }
  const blurred = gaussianBlur(moved, width, height, shadow.sigma);
  for (let i = 0; i < blurred.length; i++) blurred[i] = clamp01(blurred[i]) * shadow.opacity;
  return blurred;
}

/**
 * Straight-alpha RGBA: the person's colours (`rgb`, 8-bit RGB at the output size) over the white
 * outline over the black shadow. In the person's edge band (outside `core`) the colours are the
 * nearby core's, spread outward by a normalised blur of radius about `bleed` px.
 */
export function composeLayers(rgb: Uint8Array, layers: DieCutLayers, size: PlaneSize, bleed: number): Buffer {
  const { width, height } = size;
  const n = width * height;
  const weighted = new Float32Array(n * 3);
  for (let p = 0, i = 0; p < n; p++, i += 3) {
    const w = layers.core[p];
    weighted[i] = rgb[i] * w;
    weighted[i + 1] = rgb[i + 1] * w;
    weighted[i + 2] = rgb[i + 2] * w;
  }
  const spreadRgb = gaussianBlur(weighted, width, height, bleed, 3);
  const spreadWeight = gaussianBlur(layers.core, width, height, bleed);
  const out = Buffer.alloc(n * 4);
  const colour = [0, 0, 0];
  for (let p = 0, i = 0, o = 0; p < n; p++, i += 3, o += 4) {
    const as = layers.shadow[p];
    const aw = layers.outline[p];
    const ap = layers.person[p];
    // White over black shadow, then the person over that (premultiplied sums, then divided).
    const aBelow = aw + as * (1 - aw);
    const a = ap + aBelow * (1 - ap);
    if (a <= 0) continue;
    const core = layers.core[p];
    const sw = spreadWeight[p];
    for (let c = 0; c < 3; c++) {
      const own = rgb[i + c];
      colour[c] = core >= 1 || sw < 1e-3 ? own : own * core + (spreadRgb[i + c] / sw) * (1 - core);
    }
    const white = 255 * aw * (1 - ap);
    out[o] = Math.round((colour[0] * ap + white) / a);
    out[o + 1] = Math.round((colour[1] * ap + white) / a);
    out[o + 2] = Math.round((colour[2] * ap + white) / a);
    out[o + 3] = Math.round(a * 255);
  }
  return out;
}

function clamp01(v: number): number {
  return v > 0 ? (v < 1 ? v : 1) : 0;
}
