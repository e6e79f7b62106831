/**
 * The image pipeline, composed in one place:
 *
 *   decode → faces → person mask → stylize(scene) → colour → stylize(faces) + Poisson blend
 *          → grade → upscale (opt-in) → compose by mode at the output size → encode
 *
 * A filter style (nostalgic, papercut, comic) runs no model: no scene or face stylizing, the photo at
 * working size goes straight to the grade, whose look (looks.ts) is the whole style.
 *
 * `person` mode picks people first (find-people.ts: boxes, one mask each, the choice), runs the same
 * stages on the part of the photo around the chosen ones only (their faces only), and composes them
 * over the photo with the chosen people rebuilt away (person-layer.ts, inpaint.ts), so no outline of
 * the real person shows around the stylized one. `erase` (erase.ts) and the people preview
 * (`peoplePreview`, people-preview.ts) are the other operations.
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
import { compose, type Plate } from './compose.ts';
import { decodeImage, type Decoded } from './decode.ts';
import { encodeImage, FORMAT_MIME, type OutputFormat } from './encode.ts';
import { erasePeople } from './erase.ts';
import { detectFacesAnyOrientation } from './face-orientation.ts';
import type { Face } from './faces.ts';
import { choosePeople, facesOf, findPeople, type ChosenPeople, type PeopleInPicture } from './find-people.ts';
import { applyGrade } from './grade.ts';
import type { LookMemory } from './looks.ts';
import {
  blendImages,
  cropImage,
  cropMask,
  imageFromBytes,
  pasteImage,
  resizeImage,
  resizeImageLanczos,
  resizeMask,
  type Image,
  type Mask,
  type Rect,
} from './image.ts';
import { inpaint } from './inpaint.ts';
import { landmarksResult } from './landmarks.ts';
import { DEFAULT_FACE_LOOK, type FaceLook, type Mode, type Operation, type Quality, type UpscaleFactor } from './modes.ts';
import { personBoxes, type PersonBox } from './people.ts';
import { drawPeoplePreview } from './people-preview.ts';
import { checkPersonOption, DEFAULT_PERSON_CHOICE } from './person-choice.ts';
import { PERSON_HOLE_GROWTH, personHole, regionAround } from './person-layer.ts';
import { segmentPerson } from './person-mask.ts';
import { smileDecoded, smilePhoto } from './smile.ts';
import { Progress, type Stage } from './progress.ts';
import { sticker } from './sticker.ts';
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

/** The numbered picker picture (`ImagePipeline.peoplePreview`). */
export interface PeoplePreview {
  data: Buffer;
  format: OutputFormat;
  mime: string;
  /** The preview's size (1024 px on its long side). */
  width: number;
  height: number;
  /** Everyone found, numbered left to right, in the input's pixels. */
  people: PersonBox[];
}

/** Person mode: the people found and the ones to stylize. */
interface PickedPeople {
  found: PeopleInPicture;
  chosen: ChosenPeople;
}

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
  /** What a filter style keeps from frame to frame (its colours): one per clip. */
  looks?: LookMemory;
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
    const operation = request.operation ?? 'animefy';
    checkPersonOption(request.mode, operation, request.person);
    const style = this.style(request.style);
    const { mode } = request;
    const smile = operation === 'animefy' ? request.smile : undefined;
    const stages = planStages(mode, request.upscale, style, operation, smile !== undefined);
    const progress = new Progress(stages, request.onProgress);
    const signal = request.signal;
    const notes: string[] = [];

    let decoded = await progress.stage('decode', signal, () => this.decode(input));
    if (operation === 'erase') return erasePeople(this.runtime, decoded, request, progress, notes);
    if (operation === 'people') return this.previewResult(decoded, request, progress);
    if (operation === 'smile') return smilePhoto(this.runtime, decoded, request, progress, notes, { threshold: this.settings.faceThreshold });
    if (operation === 'landmarks') return landmarksResult(this.runtime, this.settings, decoded, request, progress);
    let photo = decoded.image;

    let faces: Face[] = [];
    if (stages.includes('faces')) {
      // A photo turned on its side with no EXIF tag still has its faces found, in the photo's own frame
      // (the face step aligns each face upright from its landmarks; the photo itself is not turned).
      const found = await progress.stage('faces', signal, () =>
        detectFacesAnyOrientation(this.runtime, photo, { threshold: this.settings.faceThreshold }),
      );
      faces = found.faces;
    }
    if (smile !== undefined) {
      // `--smile`: the photo (working and full size) smiles before anything is stylized (smile.ts).
      const started = performance.now();
      ({ decoded, faces } = await smileDecoded(this.runtime, decoded, faces, smile, notes));
      photo = decoded.image;
      progress.timings.smile = Math.round(performance.now() - started);
    }

    if (operation === 'sticker') return sticker(this.runtime, this.settings, decoded, faces, style, request, progress, notes);
    if (mode === 'face') {
      return avatar(this.runtime, this.settings, decoded, faces, style, request, progress, notes);
    }

    let mask: Mask | undefined;
    let picked: PickedPeople | undefined;
    if (mode === 'person') {
      // Only the chosen people (default: the largest) are stylized, on the real background.
      const found = await progress.stage('mask', signal, () => findPeople(this.runtime, photo, { quality: request.quality, faces, signal }));
      if (found.people.length === 0) throw new AnimefyError('NO_PERSON_FOUND');
      picked = { found, chosen: choosePeople(found, request.person ?? DEFAULT_PERSON_CHOICE) };
      mask = picked.chosen.mask;
      const unseen = picked.chosen.positions.filter((i) => found.split.areas[i] < 1e-4).map((i) => found.people[i].index);
      // A box the segmenter saw nobody in (a hidden or tiny person): say so rather than change nothing silently.
      if (unseen.length > 0) notes.push(`I couldn't outline person ${unseen.join(' and ')}, so they are left as they were.`);
    } else if (stages.includes('mask')) {
      mask = await progress.stage('mask', signal, () => segmentPerson(this.runtime, photo, request.quality));
    }

    // `fast` quality works on a canvas of about ANIMEFY_FAST_SCENE_PIXELS from here on (colour, faces,
    // grade); compose upsamples once, with Lanczos, to the output size. `high` keeps the working size,
    // and so does a filter style (it costs little, and grain and dots would blur when enlarged).
    const filter = style.sceneModel === null;
    const canvasScale = filter ? 1 : this.canvasScale(photo, request.quality);
    const canvasWidth = Math.max(1, Math.round(photo.width * canvasScale));
    const canvasHeight = Math.max(1, Math.round(photo.height * canvasScale));

    // Person mode stylizes only the part of the photo around the chosen people (the `subject`): the
    // same stages at the same scale as the whole picture would get, so the look matches full mode.
    const region = picked && regionAround(picked.chosen.mask, picked.chosen.positions.map((i) => picked.found.people[i].box));
    const canvasRegion = region && scaleRegion(region, canvasScale, canvasWidth, canvasHeight);
    const subject = region ? cropImage(photo, region) : photo;
    // Only the chosen people's faces go to the face model (others stay real); in the subject's pixels.
    const subjectFaces = (picked ? facesOf(picked.found, picked.chosen, faces) : faces).map((f) => shiftFace(f, region));
    const subjectMask = mask && region ? cropMask(mask, region) : mask;
    const subjectWidth = canvasRegion?.width ?? canvasWidth;
    const subjectHeight = canvasRegion?.height ?? canvasHeight;

    // A filter style has no scene model: the photo itself is the scene, and the grade makes the look.
    let styled = subject;
    const sceneModel = style.sceneModel;
    if (sceneModel !== null) {
      const scene = await progress.stage('stylize', signal, () =>
        this.stylizeScene(subject, sceneModel, request.quality, signal, progress, undefined, region && canvasScale),
      );
      // Colour at the scene model's resolution (only low frequencies change), then fitted to the canvas.
      styled = await progress.stage('colour', signal, () =>
        resizeImageLanczos(transferLowFrequencyColour(scene.styled, scene.source, style.colour), subjectWidth, subjectHeight),
      );
    }

    let stylizedFaces = 0;
    const rendererOf = new Map<Face, FaceRenderer>();
    if (stages.includes('face_stylize') && style.faceModel && subjectFaces.length > 0) {
      const faceModel = style.faceModel;
      const blended = await progress.stage('face_stylize', signal, () =>
        stylizeFaces(this.runtime, subject, styled, subjectFaces, {
          faceModel,
          look: request.faces ?? DEFAULT_FACE_LOOK,
          maxCropSize: request.quality === 'fast' ? 384 : 512,
          minFaceSize: this.settings.minFaceSize,
          personMask: subjectMask && resizeMask(subjectMask, subjectWidth, subjectHeight),
          signal,
          onProgress: (f) => progress.report('face_stylize', f),
        }),
      );
      styled = blended.image;
      stylizedFaces = blended.stylized;
      subjectFaces.forEach((f, i) => rendererOf.set(f.source, blended.renderers[i]));
    }
    const renderers = faces.map((f) => rendererOf.get(f) ?? 'scene');

    styled = await progress.stage('grade', signal, async () => applyGrade(styled, style.grade));
    if (canvasRegion) {
      // The stylized subject laid into the canvas; outside it the chosen people's mask is 0 anyway.
      const canvas = resizeImage(photo, canvasWidth, canvasHeight);
      pasteImage(canvas, styled, canvasRegion.x, canvasRegion.y);
      styled = canvas;
    }

    const target = this.outputSize(decoded.original.width, decoded.original.height, request.upscale, notes);
    if (request.upscale > 1 && stages.includes('upscale')) {
      styled = await progress.stage('upscale', signal, () =>
        upscaleToTarget(this.runtime, styled, target, { signal, onProgress: (f) => progress.report('upscale', f) }),
      );
    }

    const out = await progress.stage('compose', signal, async () => {
      let plate: Plate | undefined;
      if (picked) {
        // The real chosen people are taken out of the background first, so no fringe of them shows
        // around their stylized selves; the inpaint's own time is reported apart (`inpaint`).
        const hole = personHole(picked.found, picked.chosen, PERSON_HOLE_GROWTH);
        const started = performance.now();
        plate = { image: await inpaint(...plateInput(photo, hole), { signal }), hole };
        progress.timings.inpaint = Math.round(performance.now() - started);
      }
      return compose(decoded, styled, mask, mode, target, plate);
    });
    const data = await progress.stage('encode', signal, () =>
      encodeImage({ width: target.width, height: target.height, rgb: out.rgb, alpha: out.alpha }, request.format),
    );
    const k = decoded.original.width / photo.width;
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
      faceBoxes: faceBoxes(faces, renderers, k),
      ...(picked ? { people: personBoxes(picked.found.people, k), chosen: picked.chosen.numbers } : {}),
      timings: progress.finish(),
      notes,
    };
  }

  /**
   * The picker picture: the photo with every person's box and number (people numbered left to right,
   * as person mode and erase number them). Throws NO_PERSON_FOUND when there is nobody to pick.
   */
  async peoplePreview(
    input: Uint8Array,
    options: { format?: OutputFormat; signal?: AbortSignal } = {},
  ): Promise<PeoplePreview> {
    const decoded = await this.decode(input);
    const result = await this.previewResult(decoded, {
      style: 'hayao',
      mode: 'person',
      upscale: 1,
      quality: 'fast',
      format: options.format ?? 'jpeg',
      signal: options.signal,
    }, new Progress(['decode', 'mask', 'encode']));
    return {
      data: result.data,
      format: result.format,
      mime: result.mime,
      width: result.width,
      height: result.height,
      people: result.people ?? [],
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
    let styled = photo;
    if (style.sceneModel !== null) {
      const silent = new Progress(['stylize']);
      const scene = await this.stylizeScene(photo, style.sceneModel, quality, signal, silent, frame.sceneMinSide);
      throwIfCancelled(signal);
      styled = await resizeImageLanczos(transferLowFrequencyColour(scene.styled, scene.source, style.colour), photo.width, photo.height);
    }
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
    styled = applyGrade(styled, style.grade, frame.looks);
    if (frame.mask && frame.mode === 'person') styled = blendImages(photo, styled, frame.mask);
    if (frame.mask && frame.mode === 'background') styled = blendImages(styled, photo, frame.mask);
    return styled;
  }

  async dispose(): Promise<void> {
    await this.runtime.dispose();
  }

  private decode(input: Uint8Array): Promise<Decoded> {
    return decodeImage(input, {
      maxInputBytes: this.settings.maxInputBytes,
      maxInputPixels: this.settings.maxInputPixels,
      workingSize: this.settings.workingSize,
    });
  }

  /**
   * The `people` operation on a picture given as 8-bit RGB (a clip's first frame): as
   * `animefy(…, { operation: 'people' })` does for a photo.
   */
  async previewFrame(frame: { rgb: Buffer; width: number; height: number }, request: AnimefyRequest): Promise<AnimefyResult> {
    const progress = new Progress(planStages(request.mode, 1, this.style(request.style), 'people'), request.onProgress);
    const decoded: Decoded = { image: imageFromBytes(frame.rgb, frame.width, frame.height), original: frame, format: 'raw' };
    return this.previewResult(decoded, request, progress);
  }

  /** The `people` operation: the numbered preview as a result (people in input pixels). */
  private async previewResult(decoded: Decoded, request: AnimefyRequest, progress: Progress): Promise<AnimefyResult> {
    const { signal } = request;
    const photo = decoded.image;
    // The fast mask whatever the quality: it only decides whether a picture nobody was detected in
    // still shows someone (a drawn character), and the preview must come back quickly.
    const found = await progress.stage('mask', signal, () => findPeople(this.runtime, photo, { quality: 'fast', signal }));
    if (found.people.length === 0) throw new AnimefyError('NO_PERSON_FOUND');
    const k = decoded.original.width / photo.width;
    const inInput = found.people.map((p) => ({ ...p, box: { x: p.box.x * k, y: p.box.y * k, width: p.box.width * k, height: p.box.height * k } }));
    const preview = await drawPeoplePreview(decoded.original, inInput);
    const data = await progress.stage('encode', signal, () =>
      encodeImage({ width: preview.width, height: preview.height, rgb: Buffer.from(preview.rgb.buffer, preview.rgb.byteOffset, preview.rgb.byteLength) }, request.format),
    );
    return {
      data,
      format: request.format,
      mime: FORMAT_MIME[request.format],
      width: preview.width,
      height: preview.height,
      style: request.style,
      mode: request.mode,
      operation: 'people',
      faces: 0,
      stylizedFaces: 0,
      faceBoxes: [],
      people: personBoxes(found.people, k),
      timings: progress.finish(),
      notes: [],
    };
  }

  /**
   * A scene model over the whole picture; in `fast` quality on a reduced copy (about
   * ANIMEFY_FAST_SCENE_PIXELS, or the fewest tiles of a fixed-size model). Returns the result and the
   * picture it was made from (same size). `scale` overrides the reduction (a crop of a picture).
   */
  private async stylizeScene(
    photo: Image,
    sceneModel: string,
    quality: Quality,
    signal: AbortSignal | undefined,
    progress: Progress,
    minSide?: number,
    scale?: number,
  ): Promise<{ styled: Image; source: Image }> {
    const fixedSize = this.runtime.entry(sceneModel).fixedSize;
    // `scale`: a part of a picture runs at the whole picture's scale, so it looks the same as in full mode.
    const k =
      quality === 'fast' && fixedSize ? fitToFixedTiles(photo.width, photo.height, fixedSize) : (scale ?? this.canvasScale(photo, quality));
    const source = k < 1 ? resizeImage(photo, Math.round(photo.width * k), Math.round(photo.height * k)) : photo;
    const styled = await stylizeImage(this.runtime, sceneModel, source, {
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
export function planStages(
  mode: Mode,
  upscale: UpscaleFactor,
  style: ResolvedStyle,
  operation: Operation = 'animefy',
  smile = false,
): Stage[] {
  // Erase: find the people, rebuild the background (reported as `stylize`), compose.
  if (operation === 'erase') return ['decode', 'mask', 'stylize', 'compose', 'encode'];
  if (operation === 'people') return ['decode', 'mask', 'encode'];
  // Smile: faces and their points (`faces`), the warp at full size (`compose`).
  if (operation === 'smile') return ['decode', 'faces', 'compose', 'encode'];
  // Landmarks: faces and their points, drawn (compose).
  if (operation === 'landmarks') return ['decode', 'faces', 'compose', 'encode'];
  // Sticker: faces, the person mask, the models (face_stylize only for `body`), the die-cut as `compose`.
  if (operation === 'sticker') return ['decode', 'faces', 'mask', 'stylize', 'colour', 'face_stylize', 'grade', 'compose', 'encode'];
  const stages: Stage[] = ['decode'];
  const needsFaces = mode === 'face' || ((mode === 'full' || mode === 'person') && style.faceModel !== null);
  // A smile before stylizing needs the faces in any mode (smile.ts warps right after them).
  if (needsFaces || smile) stages.push('faces');
  if (mode === 'person' || mode === 'background') stages.push('mask');
  // A filter style runs no model: its whole look is the grade.
  if (style.sceneModel !== null) stages.push('stylize', 'colour');
  if (needsFaces && mode !== 'face') stages.push('face_stylize');
  stages.push('grade');
  if (upscale > 1) stages.push('upscale');
  stages.push('compose', 'encode');
  return stages;
}

/**
 * Person mode rebuilds the background only to show it through a thin band, the stylized person's
 * soft edge, so it works on a copy at most PERSON_PLATE_SIDE px long (the inpaint's own synthesis
 * runs at 512 px; carrying its fill to 1280 px costs as much again and shows nowhere). The hole is
 * scaled conservatively: every pixel the working-size hole touches is rebuilt.
 */
const PERSON_PLATE_SIDE = 640;

function plateInput(photo: Image, hole: Mask): [Image, Mask] {
  const k = PERSON_PLATE_SIDE / Math.max(photo.width, photo.height);
  if (k >= 1) return [photo, hole];
  const width = Math.max(1, Math.round(photo.width * k));
  const height = Math.max(1, Math.round(photo.height * k));
  const small = resizeMask(hole, width, height);
  for (let p = 0; p < small.data.length; p++) small.data[p] = small.data[p] > 0.01 ? 1 : 0;
  return [resizeImage(photo, width, height), small];
}

/** A working-size rectangle on the canvas (scaled by `k`), in whole pixels, within it. */
function scaleRegion(region: Rect, k: number, width: number, height: number): Rect {
  const x = Math.min(width - 1, Math.round(region.x * k));
  const y = Math.min(height - 1, Math.round(region.y * k));
  return {
    x,
    y,
    width: Math.max(1, Math.min(width - x, Math.round(region.width * k))),
    height: Math.max(1, Math.min(height - y, Math.round(region.height * k))),
  };
}

/** A face moved into a crop's coordinates (`source`: the face it came from). */
function shiftFace(face: Face, region: Rect | undefined): Face & { source: Face } {
  if (!region) return { ...face, source: face };
  const dx = region.x;
  const dy = region.y;
  return {
    box: { ...face.box, x: face.box.x - dx, y: face.box.y - dy },
    score: face.score,
    landmarks: face.landmarks.map(([x, y]) => [x - dx, y - dy] as const) as Face['landmarks'],
    source: face,
  };
}
