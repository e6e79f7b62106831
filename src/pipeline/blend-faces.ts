/**
 * Faces stylized with the face model: every face big enough is aligned by its eyes, cropped from the
 * photo with margin, stylized at 384 or 512 (the face model needs ≥384 to draw features), warped
 * back, and blended onto the stylized body with a feathered face mask by Poisson seamless cloning restricted to the
 * face's box, so the face takes the surrounding colours and no seam shows.
 */
import { throwIfCancelled } from '../errors.ts';
import type { ModelRuntime } from '../models/runtime.ts';
import {
  cropForFrame,
  ellipseBounds,
  faceEllipseMask,
  faceFrame,
  resampleCrop,
  scaleCrop,
  warpFromCrop,
  warpToCrop,
  type FaceCrop,
} from './face-align.ts';
import type { Face } from './faces.ts';
import { clampRect, cropImage, cropMask, pasteImage, resizeImage, resizeMask, type Image, type Mask } from './image.ts';
import { fastCloneBox, seamlessClone } from './poisson.ts';
import { runGenerator } from './stylize.ts';

export interface FaceStylizeOptions {
  faceModel: string;
  /** Largest crop resolution (384 or 512; the model needs at least 384). */
  maxCropSize?: number;
  /** Every face at this crop resolution (video: fixed for the clip, so a face never changes look). */
  cropSize?: number;
  /** Runs the face model on an aligned crop; video passes one that may reuse the previous frame's. */
  stylizeCrop?: CropStylizer;
  /** Faces whose box is smaller than this (px) stay with the scene model. */
  minFaceSize: number;
  /** Optional person mask (the target's size): the face region never reaches into the background. */
  personMask?: Mask;
  /** Framing margin (1 = FFHQ framing). */
  margin?: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

/**
 * Stylizes one aligned face crop: `run` is the face model; a caller may instead return an earlier
 * result for the same face (`face` is the object it passed in).
 */
export type CropStylizer = (face: Face, crop: Image, run: (crop: Image) => Promise<Image>) => Promise<Image>;

export interface FaceStylizeResult {
  image: Image;
  /** Faces that went through the face model. */
  stylized: number;
}

/**
 * Crop resolution for a face whose crop spans `sideInImage` photo pixels. AnimeGANv3's face model
 * draws no eyes or mouth below about 384 px whatever the photo's resolution (it was trained on 512
 * crops), so small faces are enlarged to 384 and larger ones run at 512.
 */
export function faceCropSize(sideInImage: number, fixedSize?: number, maxCropSize = 512): number {
  if (fixedSize) return fixedSize;
  return sideInImage <= 448 ? 384 : Math.max(384, maxCropSize);
}

export function isFaceLargeEnough(face: Face, minFaceSize: number): boolean {
  return Math.max(face.box.width, face.box.height) >= minFaceSize;
}

/**
 * `photo` is the working picture the faces were found in (crops are taken from it); `target` is the
 * stylized picture the faces are blended into, the photo's size or smaller (the `fast` canvas).
 */
export async function stylizeFaces(
  runtime: ModelRuntime,
  photo: Image,
  target: Image,
  faces: readonly Face[],
  options: FaceStylizeOptions,
): Promise<FaceStylizeResult> {
  const eligible = faces
    .filter((f) => isFaceLargeEnough(f, options.minFaceSize))
    // Small faces first, so a big face in front is blended last and stays on top.
    .sort((a, b) => a.box.width * a.box.height - b.box.width * b.box.height);
  if (eligible.length === 0) return { image: target, stylized: 0 };

  const entry = runtime.entry(options.faceModel);
  const scale = target.width / photo.width;
  const result: Image = { width: target.width, height: target.height, data: target.data.slice() };
  const masks = new Map<number, Mask>();
  let done = 0;
  for (const face of eligible) {
    throwIfCancelled(options.signal);
    const frame = faceFrame(face, options.margin ?? 1);
    const crop = cropForFrame(frame, entry.fixedSize ?? options.cropSize ?? faceCropSize(2 * frame.half, entry.fixedSize, options.maxCropSize));
    const run = (input: Image) => runGenerator(runtime, options.faceModel, input, entry.multipleOf, entry.fixedSize);
    const photoCrop = warpToCrop(photo, crop);
    const styled = options.stylizeCrop ? await options.stylizeCrop(face, photoCrop, run) : await run(photoCrop);
    let ellipse = masks.get(crop.size);
    if (!ellipse) {
      ellipse = faceEllipseMask(crop.size);
      masks.set(crop.size, ellipse);
    }
    blendFace(result, styled, ellipse, scaleCrop(crop, scale), options.personMask);
    options.onProgress?.(++done / eligible.length);
  }
  return { image: result, stylized: eligible.length };
}

/** Warps a stylized crop back and Poisson-blends it into `target` in place. */
export function blendFace(target: Image, styledCrop: Image, cropMaskPlane: Mask, crop: FaceCrop, personMask?: Mask): void {
  if (crop.sideInImage < crop.size / 1.5) {
    // A 384 crop landing on a 100 px face: average it down first so the warp back does not alias.
    const size = Math.max(8, Math.ceil(crop.sideInImage));
    styledCrop = resizeImage(styledCrop, size, size);
    cropMaskPlane = resizeMask(cropMaskPlane, size, size);
    crop = resampleCrop(crop, size);
  }
  const bounds = ellipseBounds(crop);
  const region = fastCloneBox(clampRect(bounds, target.width, target.height), target.width, target.height);
  if (region.width < 3 || region.height < 3) return;
  const warped = warpFromCrop(styledCrop, cropMaskPlane, crop, region);
  const mask = warped.mask;
  if (personMask) {
    // Keep a little of the face region even where the person mask is unsure (hair, glasses).
    const person = cropMask(personMask, region);
    for (let i = 0; i < mask.data.length; i++) mask.data[i] *= 0.25 + 0.75 * person.data[i];
  }
  // The box's outer ring is the Dirichlet boundary: it must keep the target's values.
  zeroBorder(mask);
  const dst = cropImage(target, region);
  const solved = seamlessClone(dst, warped.image, mask, { x: 0, y: 0, width: region.width, height: region.height });
  pasteImage(target, solved, region.x, region.y);
}

function zeroBorder(mask: Mask): void {
  const { width, height, data } = mask;
  for (let x = 0; x < width; x++) {
    data[x] = 0;
    data[(height - 1) * width + x] = 0;
  }
  for (let y = 0; y < height; y++) {
    data[y * width] = 0;
    data[y * width + width - 1] = 0;
  }
}
