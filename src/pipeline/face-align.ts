/**
 * Face alignment: a rotated square crop of a face, levelled by its eyes, framed the way face models
 * are trained (FFHQ alignment: the crop spans about twice the eye distance and 1.8x the eye-to-mouth
 * distance each side of a centre just below the eyes, so hair, chin and a little neck are in).
 *
 * An `Affine` maps crop coordinates (u, v) to image coordinates (x, y):
 *   x = a·u + b·v + c,  y = d·u + e·v + f   (pixel centres at +0.5)
 */
import type { Face, Point } from './faces.ts';
import type { Image, Mask, Rect } from './image.ts';

export interface Affine {
  a: number;
  b: number;
  c: number;
  d: number;
  e: number;
  f: number;
}

export interface FaceCrop {
  /** Crop side in crop pixels. */
  size: number;
  /** Crop → image. */
  toImage: Affine;
  /** Side of the crop square in image pixels. */
  sideInImage: number;
  /** Rotation of the crop in radians (0 = upright face). */
  angle: number;
}

/** Geometry of a face's crop square in image pixels (before choosing a crop resolution). */
export interface FaceFrame {
  center: Point;
  /** Unit vector along the crop's x axis (eye to eye, levelled). */
  axis: Point;
  /** Half the crop side in image pixels. */
  half: number;
}

export function faceFrame(face: Face, margin = 1): FaceFrame {
  const [eyeR, eyeL, , mouthR, mouthL] = face.landmarks;
  // Image-left eye first, so the crop's x axis points to image-right on an upright face.
  const eyeAvg: Point = [(eyeR[0] + eyeL[0]) / 2, (eyeR[1] + eyeL[1]) / 2];
  const mouthAvg: Point = [(mouthR[0] + mouthL[0]) / 2, (mouthR[1] + mouthL[1]) / 2];
  const eyeToEye: Point = [eyeL[0] - eyeR[0], eyeL[1] - eyeR[1]];
  const eyeToMouth: Point = [mouthAvg[0] - eyeAvg[0], mouthAvg[1] - eyeAvg[1]];
  // x = eye_to_eye − rot90(eye_to_mouth), where rot90(p) = (−p.y, p.x) turns "down" into "left".
  let ax = eyeToEye[0] + eyeToMouth[1];
  let ay = eyeToEye[1] - eyeToMouth[0];
  const len = Math.hypot(ax, ay);
  if (!(len > 1e-6)) {
    ax = 1;
    ay = 0;
  } else {
    ax /= len;
    ay /= len;
  }
  let half = Math.max(Math.hypot(...eyeToEye) * 2.0, Math.hypot(...eyeToMouth) * 1.8) * margin;
  // Landmarks can collapse on profile faces; never frame less than the detector's box.
  half = Math.max(half, 0.6 * Math.max(face.box.width, face.box.height) * margin);
  const center: Point = [eyeAvg[0] + eyeToMouth[0] * 0.1, eyeAvg[1] + eyeToMouth[1] * 0.1];
  return { center, axis: [ax, ay], half };
}

export function cropForFrame(frame: FaceFrame, size: number): FaceCrop {
  const [ax, ay] = frame.axis;
  const k = (2 * frame.half) / size; // image pixels per crop pixel
  // x axis = (ax, ay), y axis = rot90(x) = (−ay, ax) so v grows downwards on an upright face.
  const a = ax * k;
  const d = ay * k;
  const b = -ay * k;
  const e = ax * k;
  const [cx, cy] = frame.center;
  const h = size / 2;
  return {
    size,
    sideInImage: 2 * frame.half,
    angle: Math.atan2(ay, ax),
    toImage: { a, b, d, e, c: cx - a * h - b * h, f: cy - d * h - e * h },
  };
}

/** The same crop on a picture scaled by `k` (e.g. the `fast` canvas). */
export function scaleCrop(crop: FaceCrop, k: number): FaceCrop {
  if (k === 1) return crop;
  const t = crop.toImage;
  return {
    ...crop,
    sideInImage: crop.sideInImage * k,
    toImage: { a: t.a * k, b: t.b * k, c: t.c * k, d: t.d * k, e: t.e * k, f: t.f * k },
  };
}

/** The same crop sampled at `size` pixels instead (same square in the image). */
export function resampleCrop(crop: FaceCrop, size: number): FaceCrop {
  const k = crop.size / size;
  const t = crop.toImage;
  return { ...crop, size, toImage: { ...t, a: t.a * k, b: t.b * k, d: t.d * k, e: t.e * k } };
}

export function invertAffine(t: Affine): Affine {
  const det = t.a * t.e - t.b * t.d;
  const a = t.e / det;
  const b = -t.b / det;
  const d = -t.d / det;
  const e = t.a / det;
  return { a, b, d, e, c: -(a * t.c + b * t.f), f: -(d * t.c + e * t.f) };
}

/**
 * Bounding box (image pixels, unclipped) of the part of the crop an ellipse mask can touch: the
 * rotated ellipse grown by its feather, plus a 2 px ring for the blend's boundary.
 */
export function ellipseBounds(crop: FaceCrop, shape: EllipseShape = FACE_ELLIPSE): Rect {
  const k = crop.sideInImage; // image pixels per crop side
  const rx = (shape.rx + shape.feather / 2) * k;
  const ry = (shape.ry + shape.feather / 2) * k;
  const cos = Math.cos(crop.angle);
  const sin = Math.sin(crop.angle);
  const halfW = Math.sqrt((rx * cos) ** 2 + (ry * sin) ** 2) + 2;
  const halfH = Math.sqrt((rx * sin) ** 2 + (ry * cos) ** 2) + 2;
  const t = crop.toImage;
  const u = crop.size / 2;
  const v = shape.cy * crop.size;
  const cx = t.a * u + t.b * v + t.c;
  const cy = t.d * u + t.e * v + t.f;
  const x = Math.floor(cx - halfW);
  const y = Math.floor(cy - halfH);
  return { x, y, width: Math.ceil(cx + halfW) - x, height: Math.ceil(cy + halfH) - y };
}

/**
 * Samples `src` (channels interleaved) at `size`x`size` crop pixels through `toImage`. Edges clamp.
 * When one crop pixel covers more than 1.5 source pixels, each crop pixel averages an n×n grid of
 * samples so the crop does not alias.
 */
export function warpToCrop(image: Image, crop: FaceCrop): Image {
  const data = sampleAffine(image.data, image.width, image.height, 3, crop.toImage, crop.size, crop.size);
  return { width: crop.size, height: crop.size, data };
}

/**
 * Warps a crop-space image and mask back onto the image grid inside `rect`. Pixels that map outside
 * the crop get mask 0. Returns planes the size of `rect`.
 */
export function warpFromCrop(
  cropImage: Image,
  cropMask: Mask,
  crop: FaceCrop,
  rect: Rect,
): { image: Image; mask: Mask } {
  const inv = invertAffine(crop.toImage);
  const size = cropImage.width;
  const image = new Float32Array(rect.width * rect.height * 3);
  const mask = new Float32Array(rect.width * rect.height);
  const src = cropImage.data;
  const m = cropMask.data;
  const max = size - 1;
  // One pass for both planes: crop coordinates of each rect pixel's centre, bilinear. Callers shrink
  // a crop that is much larger than its footprint first (see blendFace), so no supersampling here.
  for (let y = 0; y < rect.height; y++) {
    const iy = rect.y + y + 0.5;
    for (let x = 0; x < rect.width; x++) {
      const ix = rect.x + x + 0.5;
      const u = inv.a * ix + inv.b * iy + inv.c - 0.5;
      const v = inv.d * ix + inv.e * iy + inv.f - 0.5;
      if (u < -0.5 || v < -0.5 || u > max + 0.5 || v > max + 0.5) continue; // outside: mask 0
      const uc = u < 0 ? 0 : u > max ? max : u;
      const vc = v < 0 ? 0 : v > max ? max : v;
      const u0 = uc | 0;
      const v0 = vc | 0;
      const u1 = u0 < max ? u0 + 1 : u0;
      const v1 = v0 < max ? v0 + 1 : v0;
      const fu = uc - u0;
      const fv = vc - v0;
      const w00 = (1 - fu) * (1 - fv);
      const w01 = fu * (1 - fv);
      const w10 = (1 - fu) * fv;
      const w11 = fu * fv;
      const p00 = v0 * size + u0;
      const p01 = v0 * size + u1;
      const p10 = v1 * size + u0;
      const p11 = v1 * size + u1;
      const o = y * rect.width + x;
      mask[o] = m[p00] * w00 + m[p01] * w01 + m[p10] * w10 + m[p11] * w11;
      for (let c = 0; c < 3; c++) {
        image[o * 3 + c] = src[p00 * 3 + c] * w00 + src[p01 * 3 + c] * w01 + src[p10 * 3 + c] * w10 + src[p11 * 3 + c] * w11;
      }
    }
  }
  return { image: { width: rect.width, height: rect.height, data: image }, mask: { width: rect.width, height: rect.height, data: mask } };
}

/**
 * out(u, v) = src(T(u + 0.5, v + 0.5) − 0.5), bilinear, with n×n supersampling when T shrinks by
 * more than 1.5 (so a large face going into a 384 crop does not alias). Edges clamp.
 */
export function sampleAffine(
  src: Float32Array,
  width: number,
  height: number,
  channels: number,
  t: Affine,
  outWidth: number,
  outHeight: number,
): Float32Array {
  const out = new Float32Array(outWidth * outHeight * channels);
  const scale = Math.max(Math.sqrt(t.a * t.a + t.d * t.d), Math.sqrt(t.b * t.b + t.e * t.e));
  const n = scale > 1.5 ? Math.min(3, Math.round(scale)) : 1;
  const weight = 1 / (n * n);
  const maxX = width - 1;
  const maxY = height - 1;
  const three = channels === 3;
  for (let v = 0; v < outHeight; v++) {
    for (let u = 0; u < outWidth; u++) {
      const o = (v * outWidth + u) * channels;
      for (let sy = 0; sy < n; sy++) {
        const vv = v + (sy + 0.5) / n;
        for (let sx = 0; sx < n; sx++) {
          const uu = u + (sx + 0.5) / n;
          let x = t.a * uu + t.b * vv + t.c - 0.5;
          let y = t.d * uu + t.e * vv + t.f - 0.5;
          x = x < 0 ? 0 : x > maxX ? maxX : x;
          y = y < 0 ? 0 : y > maxY ? maxY : y;
          const x0 = x | 0;
          const y0 = y | 0;
          const x1 = x0 < maxX ? x0 + 1 : x0;
          const y1 = y0 < maxY ? y0 + 1 : y0;
          const fx = x - x0;
          const fy = y - y0;
          const w00 = (1 - fx) * (1 - fy) * weight;
          const w01 = fx * (1 - fy) * weight;
          const w10 = (1 - fx) * fy * weight;
          const w11 = fx * fy * weight;
          const i00 = (y0 * width + x0) * channels;
          const i01 = (y0 * width + x1) * channels;
          const i10 = (y1 * width + x0) * channels;
          const i11 = (y1 * width + x1) * channels;
          if (three) {
            out[o] += src[i00] * w00 + src[i01] * w01 + src[i10] * w10 + src[i11] * w11;
            out[o + 1] += src[i00 + 1] * w00 + src[i01 + 1] * w01 + src[i10 + 1] * w10 + src[i11 + 1] * w11;
            out[o + 2] += src[i00 + 2] * w00 + src[i01 + 2] * w01 + src[i10 + 2] * w10 + src[i11 + 2] * w11;
          } else {
            for (let c = 0; c < channels; c++) {
              out[o + c] += src[i00 + c] * w00 + src[i01 + c] * w01 + src[i10 + c] * w10 + src[i11 + c] * w11;
            }
          }
        }
      }
    }
  }
  return out;
}

/**
 * The soft region of a face crop that the face model's result replaces: an ellipse over forehead,
 * cheeks and chin, feathered, in crop pixels.
 */
export interface EllipseShape {
  /** Semi-axes and centre as fractions of the crop side; feather width likewise. */
  rx: number;
  ry: number;
  cy: number;
  feather: number;
}

export const FACE_ELLIPSE: EllipseShape = { rx: 0.36, ry: 0.44, cy: 0.5, feather: 0.1 };

export function faceEllipseMask(size: number, shape: EllipseShape = FACE_ELLIPSE): Mask {
  const rx = shape.rx * size;
  const ry = shape.ry * size;
  const cx = size / 2;
  const cy = shape.cy * size;
  const feather = shape.feather * size;
  const data = new Float32Array(size * size);
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      const dx = (u + 0.5 - cx) / rx;
      const dy = (v + 0.5 - cy) / ry;
      // Distance outside the ellipse in pixels, approximately.
      const r = Math.sqrt(dx * dx + dy * dy);
      const outside = (r - 1) * Math.min(rx, ry);
      const t = Math.min(1, Math.max(0, 0.5 - outside / feather));
      data[v * size + u] = t * t * (3 - 2 * t);
    }
  }
  return { width: size, height: size, data };
}
