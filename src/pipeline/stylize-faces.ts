/**
 * Faces stage: decides per face which renderer draws it, and draws it. A face big enough for the face
 * model is aligned by its eyes, cropped from the photo with margin, stylized at 384 or 512 (the face
 * model needs ≥384 to draw features), judged, toned to the body, warped back, and blended onto the
 * stylized picture with a feathered face mask by Poisson seamless cloning restricted to the face's
 * box, so no seam shows. The other faces keep the scene model's rendering with their detail restored.
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
import { restoreFaceDetail } from './face-detail.ts';
import { eyesInCrop, judgeFace } from './face-judge.ts';
import { matchFaceTone, skinTone } from './face-tone.ts';
import type { Face } from './faces.ts';
import { clampRect, cropImage, cropMask, pasteImage, resizeImage, resizeMask, type Image, type Mask } from './image.ts';
import { DEFAULT_FACE_LOOK, type FaceLook } from './modes.ts';
import { fastCloneBox, seamlessClone } from './poisson.ts';
import { runGenerator } from './stylize.ts';

/** Which renderer drew a face in the result. */
export type FaceRenderer = 'face-model' | 'scene';

/**
 * Remembers the renderer chosen for a face across calls: a clip decides once per face track, so a
 * face never switches renderer mid-clip. `get` answers undefined for a face not decided yet.
 */
export interface FaceRendererMemory {
  get(face: Face): FaceRenderer | undefined;
  set(face: Face, renderer: FaceRenderer): void;
}

export interface FaceStylizeOptions {
  faceModel: string;
  look?: FaceLook;
  /** Largest crop resolution (384 or 512; the model needs at least 384). */
  maxCropSize?: number;
  /** Every face at this crop resolution (video: fixed for the clip, so a face never changes look). */
  cropSize?: number;
  /** Runs the face model on an aligned crop; video passes one that may reuse the previous frame's. */
  stylizeCrop?: CropStylizer;
  /** Faces whose box is smaller than this (photo px) skip the face model: it draws no eyes on them. */
  minFaceSize: number;
  /** Clips: the renderer already chosen for a face's track. */
  memory?: FaceRendererMemory;
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
  /** The renderer of each face, in the order of the `faces` passed in. */
  renderers: FaceRenderer[];
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

const TONE_REFERENCE_SIZE = 96;

/** Skin brightness (luma levels) a toned face may still differ from the scene's rendering by. */
const MAX_TONE_GAP = 30;

/**
 * `photo` is the working picture the faces were found in (crops are taken from it); `target` is the
 * scene model's picture the faces are drawn into, the photo's size or smaller (the `fast` canvas).
 *
 * Each face big enough goes through the face model; its output is judged (`judgeFace`), toned to the
 * scene's rendering of the same face (`matchFaceTone`) and Poisson-blended. Every other face keeps the
 * scene's rendering, with the photo's fine detail restored (`restoreFaceDetail`).
 */
export async function stylizeFaces(
  runtime: ModelRuntime,
  photo: Image,
  target: Image,
  faces: readonly Face[],
  options: FaceStylizeOptions,
): Promise<FaceStylizeResult> {
  const renderers: FaceRenderer[] = faces.map(() => 'scene');
  if (faces.length === 0) return { image: target, renderers, stylized: 0 };
  // Small faces first, so a big face in front is drawn last and stays on top.
  const order = faces.map((_, i) => i).sort((a, b) => area(faces[a]) - area(faces[b]));
  const entry = runtime.entry(options.faceModel);
  const scale = target.width / photo.width;
  const result: Image = { width: target.width, height: target.height, data: target.data.slice() };
  const masks = new Map<number, Mask>();
  const run = (input: Image) => runGenerator(runtime, options.faceModel, input, entry.multipleOf, entry.fixedSize);
  let done = 0;
  let stylized = 0;
  for (const index of order) {
    throwIfCancelled(options.signal);
    const face = faces[index];
    const known = options.memory?.get(face);
    if ((options.look ?? DEFAULT_FACE_LOOK) === 'anime' && known !== 'scene' && isFaceLargeEnough(face, options.minFaceSize)) {
      const frame = faceFrame(face, options.margin ?? 1);
      const crop = cropForFrame(frame, entry.fixedSize ?? options.cropSize ?? faceCropSize(2 * frame.half, entry.fixedSize, options.maxCropSize));
      const photoCrop = warpToCrop(photo, crop);
      const styled = options.stylizeCrop ? await options.stylizeCrop(face, photoCrop, run) : await run(photoCrop);
      const targetCrop = scaleCrop(crop, scale);
      // A face already judged (a clip's track) is not judged again; a face judged blank is not toned.
      const drawn = known === 'face-model' || (await judgeFace(runtime, styled, eyesInCrop(face, crop))).ok;
      // The scene's rendering of the same face, as the tone reference: 96 px is plenty for skin statistics.
      const toned = drawn ? matchFaceTone(styled, warpToCrop(target, resampleCrop(targetCrop, TONE_REFERENCE_SIZE))) : undefined;
      const accepted =
        toned !== undefined && (known === 'face-model' || Math.abs(skinTone(toned.image).y - toned.to.y) <= MAX_TONE_GAP);
      if (known === undefined) options.memory?.set(face, accepted ? 'face-model' : 'scene');
      if (toned && accepted) {
        let ellipse = masks.get(crop.size);
        if (!ellipse) {
          ellipse = faceEllipseMask(crop.size);
          masks.set(crop.size, ellipse);
        }
        blendFace(result, toned.image, ellipse, targetCrop, options.personMask);
        renderers[index] = 'face-model';
        stylized++;
      }
    } else if (known === undefined) {
      options.memory?.set(face, 'scene');
    }
    if (renderers[index] === 'scene') restoreFaceDetail(result, photo, face, scale);
    options.onProgress?.(++done / faces.length);
  }
  return { image: result, renderers, stylized };
}

/** A face found in the input, where it is (input pixels) and which renderer drew it. */
export interface FaceBox {
  x: number;
  y: number;
  w: number;
  h: number;
  score: number;
  renderer: FaceRenderer;
}

/** Faces in input pixels (`k` = input size / working size) with their renderers. */
export function faceBoxes(faces: readonly Face[], renderers: readonly FaceRenderer[], k: number): FaceBox[] {
  return faces.map((f, i) => ({
    x: Math.round(f.box.x * k),
    y: Math.round(f.box.y * k),
    w: Math.round(f.box.width * k),
    h: Math.round(f.box.height * k),
    score: Math.round(f.score * 1000) / 1000,
    renderer: renderers[i] ?? 'scene',
  }));
}

function area(face: Face): number {
  return face.box.width * face.box.height;
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
