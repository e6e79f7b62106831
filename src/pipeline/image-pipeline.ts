/**
 * The image pipeline, composed in one place:
 *
 *   decode → faces → person mask → stylize(scene) → colour → stylize(faces) + Poisson blend
 *          → grade → upscale (opt-in) → compose by mode at the output size → encode
 *
 * `ImagePipeline` owns a model runtime (sessions stay loaded between calls) and reports progress by
 * stage (progress.ts). It knows nothing of chat platforms or queues. `face` mode makes an avatar
 * instead (avatar.ts); GIFs and videos go through it frame by frame (`stylizeFrame`, used by
 * media/media-pipeline.ts).
 */
import { type Config, mbToBytes } from '../config.ts';
import { AnimefyError, throwIfCancelled } from '../errors.ts';
import { ModelRuntime } from '../models/runtime.ts';
import { avatar } from './avatar.ts';
import { transferLowFrequencyColour } from './color.ts';
import { compose } from './compose.ts';
import { decodeImage } from './decode.ts';
import { encodeImage, FORMAT_MIME } from './encode.ts';
import { detectFacesAnyOrientation } from './face-orientation.ts';
import type { Face } from './faces.ts';
import { applyGrade } from './grade.ts';
import { blendImages, resizeImage, resizeImageLanczos, resizeMask, type Image, type Mask } from './image.ts';
import { DEFAULT_FACE_LOOK, type FaceLook, type Mode, type Quality, type UpscaleFactor } from './modes.ts';
import { maskCoverage, segmentPerson } from './person-mask.ts';
import { Progress, type Stage } from './progress.ts';
import { resolveStyle, type ResolvedStyle } from './styles.ts';
import { fitToFixedTiles, stylizeImage } from './stylize.ts';
import {
  faceBoxes,
  stylizeFaces,
  type CropStylizer,
  type FaceRenderer,
  type FaceRendererMemory,
} from './stylize-faces.ts';
import type { AnimefyRequest, AnimefyResult } from './types.ts';
import { upscaleToTarget } from './upscale.ts';

/** One GIF or video frame for `ImagePipeline.stylizeFrame`. */
export interface FrameRequest {
  style: ResolvedStyle;
  mode: Exclude<Mode, 'face'>;
  quality: Quality;
  /** Faces in `photo` pixels (tracked and smoothed by the caller). */
  faces: readonly Face[];
  /** Face crop resolution, fixed for the clip so faces do not change look between frames. */
  faceCropSize: number;
  /** Person mask at `photo` size: needed by the person and background modes, used to keep faces on the person. */
  mask?: Mask;
  /** Runs (or reuses) the face model on one aligned crop. */
  stylizeCrop?: CropStylizer;
  /** How faces are drawn (default `anime`). */
  look?: FaceLook;
  /** The renderer chosen for each face track (decided on its first face-model run). */
  memory?: FaceRendererMemory;
  /** Frames with a shorter side are enlarged to it for the scene model (default 256). */
  sceneMinSide?: number;
  signal?: AbortSignal;
}

export interface PipelineSettings {
  maxInputBytes: number;
  maxInputPixels: number;
  maxOutputPixels: number;
  workingSize: number;
  tilePixels: number;
  minFaceSize: number;
  faceThreshold: number;
  /** Side of the `face` mode avatar before upscaling. */
  avatarSize: number;
  /**
   * `fast` quality runs the scene model on at most this many pixels (the result is resized back up
   * with Lanczos) and faces at 384; `high` runs both at full working resolution, faces at 512.
   */
  fastScenePixels: number;
}

export function settingsFromConfig(config: Config): PipelineSettings {
  return {
    maxInputBytes: mbToBytes(config.ANIMEFY_MAX_INPUT_MB),
    maxInputPixels: config.ANIMEFY_MAX_INPUT_PIXELS,
    maxOutputPixels: config.ANIMEFY_MAX_OUTPUT_PIXELS,
    workingSize: config.ANIMEFY_WORKING_SIZE,
    tilePixels: config.ANIMEFY_TILE_PIXELS,
    minFaceSize: config.ANIMEFY_MIN_FACE_SIZE,
    faceThreshold: config.ANIMEFY_FACE_THRESHOLD,
    avatarSize: 512,
    fastScenePixels: config.ANIMEFY_FAST_SCENE_PIXELS,
  };
}

export class ImagePipeline {
  constructor(
    readonly runtime: ModelRuntime,
    readonly settings: PipelineSettings,
  ) {}

  static fromConfig(config: Config): ImagePipeline {
    return new ImagePipeline(ModelRuntime.fromConfig(config), settingsFromConfig(config));
  }

  /** What a style runs as on this installation (trained generators replace recipes). */
  style(id: string): ResolvedStyle {
    return resolveStyle(id, (modelId) => this.runtime.manifest.has(modelId) && this.runtime.isAvailable(modelId));
  }

  async animefy(input: Uint8Array, request: AnimefyRequest): Promise<AnimefyResult> {
    const style = this.style(request.style);
    const { mode } = request;
    const stages = planStages(mode, request.upscale, style);
    const progress = new Progress(stages, request.onProgress);
    const signal = request.signal;
    const notes: string[] = [];

    const decoded = await progress.stage('decode', signal, () =>
      decodeImage(input, {
        maxInputBytes: this.settings.maxInputBytes,
        maxInputPixels: this.settings.maxInputPixels,
        workingSize: this.settings.workingSize,
      }),
    );
    const photo = decoded.image;

    let faces: Face[] = [];
    if (stages.includes('faces')) {
      // A photo turned on its side with no EXIF tag still has its faces found, in the photo's own frame
      // (the face step aligns each face upright from its landmarks; the photo itself is not turned).
      const found = await progress.stage('faces', signal, () =>
        detectFacesAnyOrientation(this.runtime, photo, { threshold: this.settings.faceThreshold }),
      );
      faces = found.faces;
    }

    if (mode === 'face') {
      return avatar(this.runtime, this.settings, decoded, faces, style, request, progress, notes);
    }

    let mask: Mask | undefined;
    if (stages.includes('mask')) {
      mask = await progress.stage('mask', signal, () => segmentPerson(this.runtime, photo, request.quality));
      // MediaPipe sees a few percent of "person" in busy scenery; without a face that is no one.
      if (mode === 'person' && maskCoverage(mask) < 0.05 && faces.length === 0) throw new AnimefyError('NO_PERSON_FOUND');
    }

    // `fast` quality works on a canvas of about ANIMEFY_FAST_SCENE_PIXELS from here on (colour, faces,
    // grade); compose upsamples once, with Lanczos, to the output size. `high` keeps the working size.
    const canvasScale = this.canvasScale(photo, request.quality);
    const canvasWidth = Math.max(1, Math.round(photo.width * canvasScale));
    const canvasHeight = Math.max(1, Math.round(photo.height * canvasScale));

    const scene = await progress.stage('stylize', signal, () => this.stylizeScene(photo, style, request.quality, signal, progress));
    // Colour at the scene model's resolution (only low frequencies change), then fitted to the canvas.
    let styled = await progress.stage('colour', signal, () =>
      resizeImageLanczos(transferLowFrequencyColour(scene.styled, scene.source, style.colour), canvasWidth, canvasHeight),
    );

    let stylizedFaces = 0;
    let renderers: FaceRenderer[] = faces.map(() => 'scene');
    if (stages.includes('face_stylize') && style.faceModel) {
      const faceModel = style.faceModel;
      const blended = await progress.stage('face_stylize', signal, () =>
        stylizeFaces(this.runtime, photo, styled, faces, {
          faceModel,
          look: request.faces ?? DEFAULT_FACE_LOOK,
          maxCropSize: request.quality === 'fast' ? 384 : 512,
          minFaceSize: this.settings.minFaceSize,
          personMask: mask && resizeMask(mask, canvasWidth, canvasHeight),
          signal,
          onProgress: (f) => progress.report('face_stylize', f),
        }),
      );
      styled = blended.image;
      stylizedFaces = blended.stylized;
      renderers = blended.renderers;
    }

    styled = await progress.stage('grade', signal, async () => applyGrade(styled, style.grade));

    const target = this.outputSize(decoded.original.width, decoded.original.height, request.upscale, notes);
    if (request.upscale > 1 && stages.includes('upscale')) {
      styled = await progress.stage('upscale', signal, () =>
        upscaleToTarget(this.runtime, styled, target, { signal, onProgress: (f) => progress.report('upscale', f) }),
      );
    }

    const out = await progress.stage('compose', signal, () => compose(decoded, styled, mask, mode, target));
    const data = await progress.stage('encode', signal, () =>
      encodeImage({ width: target.width, height: target.height, rgb: out.rgb, alpha: out.alpha }, request.format),
    );
    return {
      data,
      format: request.format,
      mime: FORMAT_MIME[request.format],
      width: target.width,
      height: target.height,
      style: style.id,
      mode,
      faces: faces.length,
      stylizedFaces,
      faceBoxes: faceBoxes(faces, renderers, decoded.original.width / photo.width),
      timings: progress.finish(),
      notes,
    };
  }

  /**
   * One frame of a GIF or video, at working size, without decode, upscale or encode: the caller (the
   * media pipeline) supplies faces and the person mask already smoothed over time, a face crop
   * resolution that stays fixed for the whole clip, and optionally a hook that may reuse a face's
   * previous stylized crop. Returns the stylized frame (same size as `photo`).
   */
  async stylizeFrame(photo: Image, frame: FrameRequest): Promise<Image> {
    const { style, quality, signal } = frame;
    const silent = new Progress(['stylize']);
    const scene = await this.stylizeScene(photo, style, quality, signal, silent, frame.sceneMinSide);
    throwIfCancelled(signal);
    let styled = await resizeImageLanczos(transferLowFrequencyColour(scene.styled, scene.source, style.colour), photo.width, photo.height);
    if (style.faceModel && frame.faces.length > 0 && frame.mode !== 'background') {
      const blended = await stylizeFaces(this.runtime, photo, styled, frame.faces, {
        faceModel: style.faceModel,
        cropSize: frame.faceCropSize,
        look: frame.look,
        memory: frame.memory,
        minFaceSize: this.settings.minFaceSize,
        personMask: frame.mask,
        stylizeCrop: frame.stylizeCrop,
        signal,
      });
      styled = blended.image;
    }
    styled = applyGrade(styled, style.grade);
    if (frame.mask && frame.mode === 'person') styled = blendImages(photo, styled, frame.mask);
    if (frame.mask && frame.mode === 'background') styled = blendImages(styled, photo, frame.mask);
    return styled;
  }

  async dispose(): Promise<void> {
    await this.runtime.dispose();
  }

  /**
   * The scene model over the whole picture; in `fast` quality on a reduced copy (about
   * ANIMEFY_FAST_SCENE_PIXELS, or the fewest tiles of a fixed-size model). Returns the result and the
   * picture it was made from (same size).
   */
  private async stylizeScene(
    photo: Image,
    style: ResolvedStyle,
    quality: Quality,
    signal: AbortSignal | undefined,
    progress: Progress,
    minSide?: number,
  ): Promise<{ styled: Image; source: Image }> {
    const fixedSize = this.runtime.entry(style.sceneModel).fixedSize;
    const k = quality === 'fast' && fixedSize ? fitToFixedTiles(photo.width, photo.height, fixedSize) : this.canvasScale(photo, quality);
    const source = k < 1 ? resizeImage(photo, Math.round(photo.width * k), Math.round(photo.height * k)) : photo;
    const styled = await stylizeImage(this.runtime, style.sceneModel, source, {
      tilePixels: this.settings.tilePixels,
      minSide,
      signal,
      onProgress: (f) => progress.report('stylize', f),
    });
    return { styled, source };
  }

  /** Scale of the `fast` canvas (about ANIMEFY_FAST_SCENE_PIXELS); 1 in `high` quality. */
  private canvasScale(photo: Image, quality: Quality): number {
    if (quality !== 'fast') return 1;
    return Math.min(1, Math.sqrt(this.settings.fastScenePixels / (photo.width * photo.height)));
  }

  /** Output size: the input's size times the upscale factor, capped at the output pixel limit. */
  private outputSize(width: number, height: number, upscale: UpscaleFactor, notes: string[]): { width: number; height: number } {
    let w = width * upscale;
    let h = height * upscale;
    if (w * h > this.settings.maxOutputPixels) {
      const k = Math.sqrt(this.settings.maxOutputPixels / (w * h));
      w = Math.max(1, Math.floor(w * k));
      h = Math.max(1, Math.floor(h * k));
      if (upscale > 1) notes.push(`Upscale capped at ${w}x${h} (${Math.round((w * h) / 1e5) / 10} MP).`);
    }
    return { width: w, height: h };
  }
}

/** The stages a request will go through, in order (drives the progress percentage). */
export function planStages(mode: Mode, upscale: UpscaleFactor, style: ResolvedStyle): Stage[] {
  const stages: Stage[] = ['decode'];
  const needsFaces = mode === 'face' || ((mode === 'full' || mode === 'person') && style.faceModel !== null);
  if (needsFaces) stages.push('faces');
  if (mode === 'person' || mode === 'background') stages.push('mask');
  stages.push('stylize', 'colour');
  if (needsFaces && mode !== 'face') stages.push('face_stylize');
  stages.push('grade');
  if (upscale > 1) stages.push('upscale');
  stages.push('compose', 'encode');
  return stages;
}
