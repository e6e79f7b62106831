/**
 * Face detail stage, the "light face grade" for faces the scene model draws (faces too small or too
 * hard for the face model, and every face with `faces: keep`). The scene model keeps a face's tone and
 * shape but smooths away what makes it a face at small sizes: pupils, brows, the mouth line. This puts
 * the photo's own fine luma detail back inside the face, with dark detail weighted more than light
 * (the inked look of the style), and leaves colour and the face's overall brightness to the scene
 * model.
 *
 *   detail = (photo luma − blur(photo luma)) − (styled luma − blur(styled luma)),  blur σ ≈ face/12
 *   styled luma += amount · weight(detail) · detail  inside a feathered ellipse over the face box
 */
import { gaussianBlur } from './filters.ts';
import type { Face } from './faces.ts';
import { clampRect, type Image } from './image.ts';
import { sampleAffine } from './face-align.ts';

export interface FaceDetailOptions {
  /** Strength of dark detail (light detail gets half). */
  amount?: number;
}

/**
 * In place on `target`, a stylized picture `scale` times the size of `photo` (the `fast` canvas);
 * `face` is in photo pixels.
 */
export function restoreFaceDetail(target: Image, photo: Image, face: Face, scale: number, options: FaceDetailOptions = {}): void {
  const amount = options.amount ?? 0.9;
  const { box } = face;
  const cx = (box.x + box.width / 2) * scale;
  const cy = (box.y + box.height / 2) * scale;
  const rx = 0.5 * box.width * scale;
  const ry = 0.55 * box.height * scale;
  const region = clampRect(
    { x: Math.floor(cx - 1.3 * rx), y: Math.floor(cy - 1.3 * ry), width: Math.ceil(2.6 * rx) + 1, height: Math.ceil(2.6 * ry) + 1 },
    target.width,
    target.height,
  );
  const { width: w, height: h } = region;
  if (w < 4 || h < 4) return;
  // The photo under the region, at the target's resolution (averaged down when the canvas is smaller).
  const k = 1 / scale;
  const source = sampleAffine(photo.data, photo.width, photo.height, 3, { a: k, b: 0, c: region.x * k, d: 0, e: k, f: region.y * k }, w, h);
  const styledLuma = new Float32Array(w * h);
  const photoLuma = new Float32Array(w * h);
  const t = target.data;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = y * w + x;
      const i = ((region.y + y) * target.width + region.x + x) * 3;
      styledLuma[o] = 0.299 * t[i] + 0.587 * t[i + 1] + 0.114 * t[i + 2];
      photoLuma[o] = 0.299 * source[o * 3] + 0.587 * source[o * 3 + 1] + 0.114 * source[o * 3 + 2];
    }
  }
  const sigma = Math.max(0.8, Math.min(rx, ry) / 6);
  const photoLow = gaussianBlur(photoLuma, w, h, sigma);
  const styledLow = gaussianBlur(styledLuma, w, h, sigma);
  const feather = Math.max(1.5, 0.25 * Math.min(rx, ry));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const dx = (region.x + x + 0.5 - cx) / rx;
      const dy = (region.y + y + 0.5 - cy) / ry;
      const outside = (Math.sqrt(dx * dx + dy * dy) - 1) * Math.min(rx, ry);
      const s = Math.min(1, Math.max(0, 0.5 - outside / feather));
      if (s <= 0) continue;
      const o = y * w + x;
      const detail = photoLuma[o] - photoLow[o] - (styledLuma[o] - styledLow[o]);
      const delta = s * s * (3 - 2 * s) * amount * (detail < 0 ? 1 : 0.5) * detail;
      const i = ((region.y + y) * target.width + region.x + x) * 3;
      t[i] = clamp(t[i] + delta);
      t[i + 1] = clamp(t[i + 1] + delta);
      t[i + 2] = clamp(t[i + 2] + delta);
    }
  }
}

function clamp(v: number): number {
  return v > 0 ? (v < 255 ? v : 255) : 0;
}
