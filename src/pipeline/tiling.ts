/**
 * Overlapping tiles with feathered seams. A large image is cut into tiles that overlap by at least
 * `overlap` pixels; each tile is processed on its own; the results are stitched with weights that
 * ramp linearly across every shared edge, so no tile line shows even when tiles differ slightly
 * (AnimeGAN's normalisation uses per-image statistics, so neighbouring tiles never agree exactly).
 */
import { throwIfCancelled } from '../errors.ts';
import { cropImage, type Image, type Rect } from './image.ts';

/** Start offsets of tiles of `tile` px covering `length` px with at least `overlap` px shared. */
export function planAxis(length: number, tile: number, overlap: number): number[] {
  if (length <= tile) return [0];
  const step = Math.max(1, tile - overlap);
  const count = Math.ceil((length - overlap) / step);
  const n = Math.max(2, count);
  const starts: number[] = [];
  for (let i = 0; i < n; i++) starts.push(Math.round((i * (length - tile)) / (n - 1)));
  return starts;
}

export function planTiles(width: number, height: number, tileWidth: number, tileHeight: number, overlap: number): Rect[] {
  const xs = planAxis(width, tileWidth, overlap);
  const ys = planAxis(height, tileHeight, overlap);
  const tiles: Rect[] = [];
  for (const y of ys) {
    for (const x of xs) {
      tiles.push({ x, y, width: Math.min(tileWidth, width), height: Math.min(tileHeight, height) });
    }
  }
  return tiles;
}

export interface TiledRunOptions {
  tileWidth: number;
  tileHeight: number;
  overlap: number;
  /** Output pixels per input pixel (4 for a ×4 upscaler). */
  scale?: number;
  signal?: AbortSignal;
  onTile?: (done: number, total: number) => void;
}

/**
 * Runs `process` on every tile and stitches the results. `process` gets a tile image and must return
 * one `scale` times its size.
 */
export async function runTiled(
  image: Image,
  options: TiledRunOptions,
  process: (tile: Image, rect: Rect) => Promise<Image>,
): Promise<Image> {
  const scale = options.scale ?? 1;
  const tiles = planTiles(image.width, image.height, options.tileWidth, options.tileHeight, options.overlap);
  const outW = image.width * scale;
  const outH = image.height * scale;
  if (tiles.length === 1) {
    const single = await process(image, tiles[0]);
    options.onTile?.(1, 1);
    return single;
  }
  const acc = new Float32Array(outW * outH * 3);
  const weight = new Float32Array(outW * outH);
  const ramp = Math.max(1, options.overlap * scale);
  let done = 0;
  for (const rect of tiles) {
    throwIfCancelled(options.signal);
    const result = await process(cropImage(image, rect), rect);
    const rx = rect.x * scale;
    const ry = rect.y * scale;
    const tw = result.width;
    const th = result.height;
    // Ramps only on edges shared with a neighbour; edges on the image border keep full weight.
    const wx = edgeWeights(tw, ramp, rx > 0, rx + tw < outW);
    const wy = edgeWeights(th, ramp, ry > 0, ry + th < outH);
    for (let y = 0; y < th; y++) {
      const rowW = wy[y];
      let o = (ry + y) * outW + rx;
      let i = y * tw * 3;
      for (let x = 0; x < tw; x++, o++, i += 3) {
        const w = rowW * wx[x];
        acc[o * 3] += result.data[i] * w;
        acc[o * 3 + 1] += result.data[i + 1] * w;
        acc[o * 3 + 2] += result.data[i + 2] * w;
        weight[o] += w;
      }
    }
    options.onTile?.(++done, tiles.length);
  }
  for (let p = 0; p < weight.length; p++) {
    const inv = 1 / weight[p];
    acc[p * 3] *= inv;
    acc[p * 3 + 1] *= inv;
    acc[p * 3 + 2] *= inv;
  }
  return { width: outW, height: outH, data: acc };
}

function edgeWeights(length: number, ramp: number, rampStart: boolean, rampEnd: boolean): Float32Array {
  const w = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    let v = 1;
    if (rampStart) v = Math.min(v, (i + 0.5) / ramp);
    if (rampEnd) v = Math.min(v, (length - i - 0.5) / ramp);
    w[i] = v;
  }
  return w;
}
