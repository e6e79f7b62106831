/**
 * Face tone stage: the face model paints every face in the same pale anime skin, whatever the
 * person's skin and the light. Before a face-model face is blended, its skin tone and brightness are
 * moved to those of the scene model's rendering of the same face, which keeps the person's real skin
 * and the picture's light and matches the neck and hands (the whole picture went through that model).
 *
 * Both are aligned crops of the same face, so one region compares like with like: the skin between
 * the eyes and the chin. Its statistics are trimmed (the 30th–95th percentile of lightness) so eyes,
 * brows, mouth, beard and highlights do not count, in YCbCr (BT.601). Brightness is matched by a
 * gain (dark lines stay dark, the anime shading keeps its shape; chroma scales with it), then the
 * chroma by a shift, faded out on the darkest pixels so line art is not tinted. All of it is linear in
 * RGB, so a 384² crop takes about a millisecond.
 */
import { clamp255 } from './color.ts';
import type { Image } from './image.ts';

export interface SkinTone {
  /** Trimmed means of the skin region: luma 0..255, chroma centred on 0. */
  y: number;
  cb: number;
  cr: number;
  /** Luma spread (standard deviation) of the same pixels. */
  spread: number;
}

/** Brightness gain limits: a face is never darkened below 0.3× or lightened beyond 1.6×. */
export const TONE_GAIN_RANGE = [0.3, 1.6] as const;

/**
 * Trimmed skin statistics of an aligned face crop (square, FFHQ-style framing: eyes a little above
 * the centre, the mouth at about two thirds down).
 */
export function skinTone(crop: Image): SkinTone {
  const { width: size, data } = crop;
  const ls: number[] = [];
  const as: number[] = [];
  const bs: number[] = [];
  const cx = 0.5 * size;
  const cy = 0.56 * size;
  const rx = 0.2 * size;
  const ry = 0.19 * size;
  for (let y = Math.floor(cy - ry); y <= Math.ceil(cy + ry); y++) {
    if (y < 0 || y >= crop.height) continue;
    for (let x = Math.floor(cx - rx); x <= Math.ceil(cx + rx); x++) {
      if (x < 0 || x >= size) continue;
      const dx = (x + 0.5 - cx) / rx;
      const dy = (y + 0.5 - cy) / ry;
      if (dx * dx + dy * dy > 1) continue;
      const i = (y * size + x) * 3;
      const r = data[i];
      const g = data[i + 1];
      const b = data[i + 2];
      ls.push(0.299 * r + 0.587 * g + 0.114 * b);
      as.push(-0.168736 * r - 0.331264 * g + 0.5 * b);
      bs.push(0.5 * r - 0.418688 * g - 0.081312 * b);
    }
  }
  const sorted = Float64Array.from(ls).sort();
  const lo = sorted[Math.floor(sorted.length * 0.3)];
  const hi = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))];
  let n = 0;
  let sl = 0;
  let sl2 = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < ls.length; i++) {
    if (ls[i] < lo || ls[i] > hi) continue;
    n++;
    sl += ls[i];
    sl2 += ls[i] * ls[i];
    sa += as[i];
    sb += bs[i];
  }
  if (n === 0) return { y: 128, cb: 0, cr: 0, spread: 0 };
  const l = sl / n;
  return { y: l, cb: sa / n, cr: sb / n, spread: Math.sqrt(Math.max(0, sl2 / n - l * l)) };
}

/**
 * `styled` (the face model's crop) with its skin tone moved to `reference`'s (the scene model's
 * rendering of the same crop). Returns a new image and the tones before and after.
 */
export function matchFaceTone(styled: Image, reference: Image): { image: Image; from: SkinTone; to: SkinTone } {
  const from = skinTone(styled);
  const to = skinTone(reference);
  const gain = Math.min(TONE_GAIN_RANGE[1], Math.max(TONE_GAIN_RANGE[0], to.y / Math.max(1, from.y)));
  const dcb = to.cb - from.cb * gain;
  const dcr = to.cr - from.cr * gain;
  const src = styled.data;
  const out = new Float32Array(src.length);
  // The chroma shift fades in over the darkest half of the skin's brightness (line art, pupils).
  const fade = Math.max(1, 0.5 * to.y);
  for (let i = 0; i < src.length; i += 3) {
    const r = src[i];
    const g = src[i + 1];
    const b = src[i + 2];
    const y = Math.min(255, (0.299 * r + 0.587 * g + 0.114 * b) * gain);
    const t = Math.min(1, y / fade);
    const cb = (-0.168736 * r - 0.331264 * g + 0.5 * b) * gain + dcb * t;
    const cr = (0.5 * r - 0.418688 * g - 0.081312 * b) * gain + dcr * t;
    out[i] = clamp255(y + 1.402 * cr);
    out[i + 1] = clamp255(y - 0.344136 * cb - 0.714136 * cr);
    out[i + 2] = clamp255(y + 1.772 * cb);
  }
  return { image: { width: styled.width, height: styled.height, data: out }, from, to };
}
