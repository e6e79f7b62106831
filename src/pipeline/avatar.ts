/**
 * `face` mode: instead of the whole picture, a square anime avatar of the largest face (head, hair
 * and shoulders), drawn by the face model (or by the scene model for `keep` faces), then colour,
 * grade and the optional upscale. A filter style (no model) grades the crop itself.
 */
import { AnimefyError } from '../errors.ts';
import type { ModelRuntime } from '../models/runtime.ts';
import { transferLowFrequencyColour } from './color.ts';
import { resizeBytes, type Decoded } from './decode.ts';
import { encodeImage, FORMAT_MIME } from './encode.ts';
import { cropForFrame, faceFrame, warpToCrop } from './face-align.ts';
import { largestFace, type Face } from './faces.ts';
import { applyGrade } from './grade.ts';
import { imageToBytes } from './image.ts';
import type { Progress } from './progress.ts';
import type { ResolvedStyle } from './styles.ts';
import { runGenerator } from './stylize.ts';
import { faceBoxes } from './stylize-faces.ts';
import type { AnimefyRequest, AnimefyResult } from './types.ts';
import { upscaleToTarget } from './upscale.ts';

/** The image pipeline's settings an avatar uses (see PipelineSettings). */
export interface AvatarSettings {
  /** Side of the `face` mode avatar before upscaling (a fixed-size model keeps its own). */
  avatarSize: number;
  maxOutputPixels: number;
}

/** `face` mode: a square anime avatar of the largest face. */
export async function avatar(
  runtime: ModelRuntime,
  settings: AvatarSettings,
  decoded: Decoded,
  faces: Face[],
  style: ResolvedStyle,
  request: AnimefyRequest,
  progress: Progress,
  notes: string[],
): Promise<AnimefyResult> {
  const face = largestFace(faces);
  if (!face) throw new AnimefyError('NO_FACE_FOUND');
  const signal = request.signal;
  // `keep` draws the avatar with the scene model, as it draws kept faces in a whole picture; a filter
  // style (no model) filters the crop itself.
  const faceModel = request.faces === 'keep' ? null : style.faceModel;
  const model = faceModel ?? style.sceneModel;
  const entry = model === null ? undefined : runtime.entry(model);
  const size = entry?.fixedSize ?? settings.avatarSize;
  // A wider frame than for blending: head, hair and shoulders, as an avatar. The frame is levelled by
  // the eyes and mouth, so a face lying on its side in the photo (found by face-orientation.ts) makes
  // the same upright avatar as the photo turned upright.
  const crop = cropForFrame(faceFrame(face, 1.25), size);
  const photoCrop = warpToCrop(decoded.image, crop);
  let styled = photoCrop;
  if (model !== null && entry) {
    styled = await progress.stage('stylize', signal, () => runGenerator(runtime, model, photoCrop, entry.multipleOf, entry.fixedSize));
    styled = await progress.stage('colour', signal, async () => transferLowFrequencyColour(styled, photoCrop, style.colour));
  }
  styled = await progress.stage('grade', signal, async () => applyGrade(styled, style.grade));
  let side = size * request.upscale;
  if (side * side > settings.maxOutputPixels) {
    side = Math.floor(Math.sqrt(settings.maxOutputPixels));
    notes.push(`Upscale capped at ${side}x${side}.`);
  }
  if (request.upscale > 1) {
    const target = { width: side, height: side };
    styled = await progress.stage('upscale', signal, () =>
      upscaleToTarget(runtime, styled, target, { signal, onProgress: (f) => progress.report('upscale', f) }),
    );
  }
  const rgb = await progress.stage('compose', signal, () =>
    resizeBytes(imageToBytes(styled), styled.width, styled.height, 3, side, side),
  );
  const data = await progress.stage('encode', signal, () => encodeImage({ width: side, height: side, rgb }, request.format));
  return {
    data,
    format: request.format,
    mime: FORMAT_MIME[request.format],
    width: side,
    height: side,
    style: style.id,
    mode: 'face',
    faces: faces.length,
    stylizedFaces: faceModel ? 1 : 0,
    // Only the largest face is in the avatar; the others are listed as found, drawn by nothing.
    faceBoxes: faceBoxes(
      faces,
      faces.map((f) => (f === face && faceModel ? 'face-model' : 'scene')),
      decoded.original.width / decoded.image.width,
    ),
    timings: progress.finish(),
    notes,
  };
}
