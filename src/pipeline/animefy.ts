/**
 * The image pipeline, composed in one place:
 *
 *   decode → faces → person mask → stylize(scene) → colour → stylize(faces) + Poisson blend
 *          → grade → upscale (opt-in) → compose by mode at the output size → encode
 *
 * `Animefier` owns a model runtime (sessions stay loaded between calls) and reports progress by
 * stage. It knows nothing of chat platforms or queues.
 */
import type { Config } from '../config.ts';
import { AnimefyError, throwIfCancelled } from '../errors.ts';
import { ModelRuntime } from '../models/runtime.ts';
import { resolveStyle, type ResolvedStyle } from './styles.ts';
import {
  faceBoxes,
  stylizeFaces,
  type FaceBox,
  type FaceRenderer,
  type FaceRendererMemory,
} from './blend-faces.ts';
import { transferLowFrequencyColour } from './color.ts';
import { decodeImage, resizeBytes, type Decoded } from './decode.ts';
import { encodeImage, FORMAT_MIME, type OutputFormat } from './encode.ts';
import { cropForFrame, faceFrame, warpToCrop } from './face-align.ts';
import { detectFaces, largestFace, type Face } from './faces.ts';
import { applyGrade } from './grade.ts';
import { blendImages, imageToBytes, resizeImage, resizeImageLanczos, resizeMask, type Image, type Mask } from './image.ts';
import { DEFAULT_FACE_LOOK, type FaceLook, type Mode, type Quality, type UpscaleFactor } from './modes.ts';
import type { CropStylizer } from './blend-faces.ts';
import { maskCoverage, segmentPerson } from './person-mask.ts';
import { fitToFixedTiles, runGenerator, stylizeImage } from './stylize.ts';
import { UPSCALER_FACTOR, upscaleImage } from './upscale.ts';

export type Stage =
  | 'decode'
  | 'faces'
  | 'mask'
  | 'stylize'
  | 'colour'
  | 'face_stylize'
  | 'grade'
  | 'compose'
  | 'upscale'
  | 'encode'
  /** GIF and video: frames being stylized (`frame` of `frames` in the event). */
  | 'frames';

export interface ProgressEvent {
  stage: Stage;
  /** Overall progress of this job, 0..100. */
  percent: number;
  /** GIF and video, stage `frames`: frames finished so far, and in all (an estimate until the end). */
  frame?: number;
  frames?: number;
}

export interface AnimefyRequest {
  style: string;
  mode: Mode;
  upscale: UpscaleFactor;
  quality: Quality;
  format: OutputFormat;
  /** How faces are drawn (default `anime`). */
  faces?: FaceLook;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}

export interface AnimefyResult {
  data: Buffer;
  format: OutputFormat;
  mime: string;
  width: number;
  height: number;
  style: string;
  mode: Mode;
  /** Faces found in the picture. */
  faces: number;
  /** Faces that went through the face model. */
  stylizedFaces: number;
  /** One entry per face found, in detection order (`faces` long). */
  faceBoxes: FaceBox[];
  /** Milliseconds per stage, and `total`. */
  timings: Record<string, number>;
  /** Things the user may want to know (e.g. an upscale that was capped). */
  notes: string[];
}

/** One GIF or video frame for `Animefier.stylizeFrame`. */
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
    maxInputBytes: config.ANIMEFY_MAX_INPUT_BYTES,
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

/** Relative cost of each stage, for an honest overall percentage. */
const STAGE_WEIGHT: Record<Stage, number> = {
  decode: 3,
  faces: 3,
  mask: 3,
  stylize: 50,
  colour: 2,
  face_stylize: 25,
  grade: 5,
  compose: 2,
  upscale: 60,
  encode: 4,
  frames: 90,
};

export function isStage(value: unknown): value is Stage {
  return typeof value === 'string' && Object.hasOwn(STAGE_WEIGHT, value);
}

class Progress {
  private readonly plan: Stage[];
  private readonly total: number;
  private readonly started = performance.now();
  private stageStart = performance.now();
  readonly timings: Record<string, number> = {};

  constructor(
    stages: Stage[],
    private readonly listener?: (e: ProgressEvent) => void,
  ) {
    this.plan = stages;
    this.total = stages.reduce((sum, s) => sum + STAGE_WEIGHT[s], 0);
  }

  begin(stage: Stage): void {
    this.stageStart = performance.now();
    this.report(stage, 0);
  }

  /** Within-stage progress (0..1). */
  report(stage: Stage, fraction: number): void {
    if (!this.listener) return;
    const index = this.plan.indexOf(stage);
    const before = this.plan.slice(0, Math.max(0, index)).reduce((sum, s) => sum + STAGE_WEIGHT[s], 0);
    const percent = ((before + STAGE_WEIGHT[stage] * Math.min(1, Math.max(0, fraction))) / this.total) * 100;
    this.listener({ stage, percent: Math.round(percent * 10) / 10 });
  }

  end(stage: Stage): void {
    this.timings[stage] = Math.round((this.timings[stage] ?? 0) + performance.now() - this.stageStart);
  }

  finish(): Record<string, number> {
    this.timings.total = Math.round(performance.now() - this.started);
    return this.timings;
  }
}

export class Animefier {
  constructor(
    readonly runtime: ModelRuntime,
    readonly settings: PipelineSettings,
  ) {}

  static fromConfig(config: Config): Animefier {
    return new Animefier(ModelRuntime.fromConfig(config), settingsFromConfig(config));
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

    const decoded = await this.stage(progress, 'decode', signal, () =>
      decodeImage(input, {
        maxInputBytes: this.settings.maxInputBytes,
        maxInputPixels: this.settings.maxInputPixels,
        workingSize: this.settings.workingSize,
      }),
    );
    const photo = decoded.image;

    let faces: Face[] = [];
    if (stages.includes('faces')) {
      faces = await this.stage(progress, 'faces', signal, () =>
        detectFaces(this.runtime, photo, { threshold: this.settings.faceThreshold }),
      );
    }

    if (mode === 'face') {
      return this.avatar(decoded, faces, style, request, progress, notes);
    }

    let mask: Mask | undefined;
    if (stages.includes('mask')) {
      mask = await this.stage(progress, 'mask', signal, () => segmentPerson(this.runtime, photo, request.quality));
      // MediaPipe sees a few percent of "person" in busy scenery; without a face that is no one.
      if (mode === 'person' && maskCoverage(mask) < 0.05 && faces.length === 0) throw new AnimefyError('NO_PERSON_FOUND');
    }

    // `fast` quality works on a canvas of about ANIMEFY_FAST_SCENE_PIXELS from here on (colour, faces,
    // grade); compose upsamples once, with Lanczos, to the output size. `high` keeps the working size.
    const canvasScale = this.canvasScale(photo, request.quality);
    const canvasWidth = Math.max(1, Math.round(photo.width * canvasScale));
    const canvasHeight = Math.max(1, Math.round(photo.height * canvasScale));

    const scene = await this.stage(progress, 'stylize', signal, () => this.stylizeScene(photo, style, request.quality, signal, progress));
    // Colour at the scene model's resolution (only low frequencies change), then fitted to the canvas.
    let styled = await this.stage(progress, 'colour', signal, () =>
      resizeImageLanczos(transferLowFrequencyColour(scene.styled, scene.source, style.colour), canvasWidth, canvasHeight),
    );

    let stylizedFaces = 0;
    let renderers: FaceRenderer[] = faces.map(() => 'scene');
    if (stages.includes('face_stylize') && style.faceModel) {
      const faceModel = style.faceModel;
      const blended = await this.stage(progress, 'face_stylize', signal, () =>
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

    styled = await this.stage(progress, 'grade', signal, async () => applyGrade(styled, style.grade));

    const target = this.outputSize(decoded.original.width, decoded.original.height, request.upscale, notes);
    if (request.upscale > 1 && stages.includes('upscale')) {
      styled = await this.stage(progress, 'upscale', signal, () => this.upscale(styled, target, signal, progress));
    }

    const out = await this.stage(progress, 'compose', signal, () => compose(decoded, styled, mask, mode, target));
    const data = await this.stage(progress, 'encode', signal, () =>
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

  /** `face` mode: a square anime avatar of the largest face. */
  private async avatar(
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
    // `keep` draws the avatar with the scene model, as it draws kept faces in a whole picture.
    const faceModel = request.faces === 'keep' ? null : style.faceModel;
    const model = faceModel ?? style.sceneModel;
    const entry = this.runtime.entry(model);
    const size = entry.fixedSize ?? this.settings.avatarSize;
    // A wider frame than for blending: head, hair and shoulders, as an avatar.
    const crop = cropForFrame(faceFrame(face, 1.25), size);
    const photoCrop = warpToCrop(decoded.image, crop);
    let styled = await this.stage(progress, 'stylize', signal, () =>
      runGenerator(this.runtime, model, photoCrop, entry.multipleOf, entry.fixedSize),
    );
    styled = await this.stage(progress, 'colour', signal, async () => transferLowFrequencyColour(styled, photoCrop, style.colour));
    styled = await this.stage(progress, 'grade', signal, async () => applyGrade(styled, style.grade));
    let side = size * request.upscale;
    if (side * side > this.settings.maxOutputPixels) {
      side = Math.floor(Math.sqrt(this.settings.maxOutputPixels));
      notes.push(`Upscale capped at ${side}x${side}.`);
    }
    if (request.upscale > 1) {
      styled = await this.stage(progress, 'upscale', signal, () => this.upscale(styled, { width: side, height: side }, signal, progress));
    }
    const rgb = await this.stage(progress, 'compose', signal, () =>
      resizeBytes(imageToBytes(styled), styled.width, styled.height, 3, side, side),
    );
    const data = await this.stage(progress, 'encode', signal, () => encodeImage({ width: side, height: side, rgb }, request.format));
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

  /**
   * Runs Real-ESRGAN on the stylized picture reduced to a quarter of the target (never enlarged
   * beyond the working size), so ×2 costs a quarter of ×4; the ×4 result is then fitted to the target.
   */
  private async upscale(
    image: Image,
    target: { width: number; height: number },
    signal: AbortSignal | undefined,
    progress: Progress,
  ): Promise<Image> {
    const k = Math.min(1, target.width / UPSCALER_FACTOR / image.width, target.height / UPSCALER_FACTOR / image.height);
    const source = k < 1 ? resizeImage(image, Math.max(8, Math.round(image.width * k)), Math.max(8, Math.round(image.height * k))) : image;
    return upscaleImage(this.runtime, source, { signal, onProgress: (f) => progress.report('upscale', f) });
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

  private async stage<T>(progress: Progress, stage: Stage, signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    throwIfCancelled(signal);
    progress.begin(stage);
    const value = await work();
    progress.end(stage);
    progress.report(stage, 1);
    return value;
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

/**
 * Fits the stylized layer to the output size and, for person/background modes, blends it with the
 * real photo at full resolution (so kept pixels stay sharp). Returns 8-bit RGB and alpha.
 */
async function compose(
  decoded: Decoded,
  styled: Image,
  mask: Mask | undefined,
  mode: Mode,
  target: { width: number; height: number },
): Promise<{ rgb: Buffer; alpha?: Buffer }> {
  const { width, height } = target;
  const { original } = decoded;
  let styledBytes = imageToBytes(styled);
  if (styled.width !== width || styled.height !== height) {
    styledBytes = await resizeBytes(styledBytes, styled.width, styled.height, 3, width, height);
  }
  let rgb = styledBytes;
  if (mask && (mode === 'person' || mode === 'background')) {
    const photoBytes =
      original.width === width && original.height === height
        ? original.rgb
        : await resizeBytes(original.rgb, original.width, original.height, 3, width, height);
    let maskBytes = maskToBytes(mask);
    if (mask.width !== width || mask.height !== height) {
      maskBytes = await resizeBytes(maskBytes, mask.width, mask.height, 1, width, height);
    }
    rgb = Buffer.allocUnsafe(width * height * 3);
    const stylizedWhere = mode === 'person' ? 1 : 0; // person: styled on the person; background: styled off it
    for (let p = 0, i = 0; p < width * height; p++, i += 3) {
      const m = maskBytes[p] / 255;
      const t = stylizedWhere ? m : 1 - m;
      rgb[i] = Math.round(photoBytes[i] + (styledBytes[i] - photoBytes[i]) * t);
      rgb[i + 1] = Math.round(photoBytes[i + 1] + (styledBytes[i + 1] - photoBytes[i + 1]) * t);
      rgb[i + 2] = Math.round(photoBytes[i + 2] + (styledBytes[i + 2] - photoBytes[i + 2]) * t);
    }
  }
  let alpha = original.alpha;
  if (alpha && (original.width !== width || original.height !== height)) {
    alpha = await resizeBytes(alpha, original.width, original.height, 1, width, height);
  }
  return { rgb, alpha };
}

function maskToBytes(mask: Mask): Buffer {
  const out = Buffer.allocUnsafe(mask.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, mask.data[i])) * 255);
  return out;
}
