/**
 * One entry to the pipeline for every input; the queue's workers and the CLI both call it. It looks at
 * what the bytes really are, once (a declared kind only counts when the bytes say nothing), sends
 * pictures to the image pipeline and GIFs, animated WebP and videos to the media pipeline, picks the
 * output format the caller left open, and with `maxBytes` makes the result fit an upload limit
 * (fit-size.ts). Face mode on a clip is refused by the media pipeline (`clipMode` in modes.ts), erase
 * here (`clipOperation`); the people preview of a clip is drawn on its first frame.
 */
import sharp from 'sharp';
import { isOutputFormat, type OutputFormat } from './encode.ts';
import { fitToBytes } from './fit-size.ts';
import type { ImagePipeline } from './image-pipeline.ts';
import { isMediaFormat, type MediaFormat } from './media/frames.ts';
import type { MediaDetails, MediaPipeline } from './media/media-pipeline.ts';
import { detectMediaKind, type MediaKind } from './media/sniff.ts';
import { clipOperation } from './modes.ts';
import { checkPersonOption } from './person-choice.ts';
import type { AnimefyRequest, AnimefyResult } from './types.ts';

/** Both pipelines, made once per process (the models stay loaded between inputs). */
export interface Pipelines {
  image: ImagePipeline;
  media: MediaPipeline;
}

/** png/jpeg/webp for pictures, gif/mp4/webm for GIFs and videos. */
export type AnyFormat = OutputFormat | MediaFormat;

export interface AnyRequest extends Omit<AnimefyRequest, 'format'> {
  /** What the caller says the input is: counts only when the bytes are not recognised. */
  kind?: MediaKind;
  /**
   * Output format, or formats in order of preference: the first of the family the input turns out
   * to be is used and the others are ignored, so one request serves whatever was sent. None of that
   * family: PNG for a picture with transparency, else JPEG; GIF for a GIF or animated WebP, MP4 for
   * a video (the media pipeline's default).
   */
  format?: AnyFormat | readonly (AnyFormat | undefined)[];
  /**
   * The result must fit in this many bytes (a platform's upload limit); a result that would not is
   * re-encoded smaller, with a note and a `fit` timing. Unset: no limit.
   */
  maxBytes?: number;
}

/** What the pipeline hands back for any input, with the kind it turned out to be. */
export interface AnyResult extends Omit<AnimefyResult, 'format'> {
  format: AnyFormat;
  kind: MediaKind;
  /** GIF and video: frames, fps, duration, audio, flicker index. */
  media?: MediaDetails;
}

export async function animefyAny(pipelines: Pipelines, input: Uint8Array, request: AnyRequest): Promise<AnyResult> {
  checkPersonOption(request.mode, request.operation, request.person);
  const kind = mediaKindOf(input, request.kind);
  const result = kind === 'image' ? await runImage(pipelines.image, input, request) : await runMedia(pipelines.media, input, kind, request);
  const { maxBytes } = request;
  return maxBytes === undefined ? result : fitResult(pipelines.media, result, maxBytes, request.signal);
}

/**
 * What the bytes are; a declared kind only counts when the bytes are not recognised. Neither: a
 * picture, and the image pipeline's decode stage reports what is wrong with the file.
 */
export function mediaKindOf(input: Uint8Array, declared?: MediaKind): MediaKind {
  return detectMediaKind(input) ?? declared ?? 'image';
}

async function runImage(image: ImagePipeline, input: Uint8Array, request: AnyRequest): Promise<AnyResult> {
  const format = preferred(request.format, isOutputFormat) ?? (await defaultFormat(input));
  const result = await image.animefy(input, {
    style: request.style,
    mode: request.mode,
    upscale: request.upscale,
    quality: request.quality,
    faces: request.faces,
    operation: request.operation,
    person: request.person,
    format,
    signal: request.signal,
    onProgress: request.onProgress,
  });
  return { ...result, kind: 'image' };
}

async function runMedia(media: MediaPipeline, input: Uint8Array, kind: MediaKind, request: AnyRequest): Promise<AnyResult> {
  if (clipOperation(request.operation) === 'people') {
    // The picker for a clip: its first frame, numbered as person mode will number it.
    const frame = await media.firstFrame(input, request.signal);
    const format = preferred(request.format, isOutputFormat) ?? 'jpeg';
    const preview = await media.image.previewFrame(frame, { ...request, format });
    return { ...preview, kind };
  }
  const result = await media.animefy(input, {
    style: request.style,
    mode: request.mode,
    quality: request.quality,
    upscale: request.upscale,
    faces: request.faces,
    person: request.person,
    format: preferred(request.format, isMediaFormat),
    signal: request.signal,
    onProgress: request.onProgress,
  });
  return { ...result, kind };
}

/** The first format asked for of one family (pictures or clips). */
function preferred<F extends AnyFormat>(format: AnyRequest['format'], ofFamily: (value: unknown) => value is F): F | undefined {
  const formats = typeof format === 'string' || format === undefined ? [format] : format;
  return formats.find(ofFamily);
}

/**
 * Pictures with transparency come back as PNG (alpha kept); everything else as JPEG, which chat apps
 * show inline and which is several times smaller than PNG for painted images.
 */
async function defaultFormat(input: Uint8Array): Promise<OutputFormat> {
  try {
    const meta = await sharp(input).metadata();
    return meta.hasAlpha ? 'png' : 'jpeg';
  } catch {
    return 'jpeg'; // the decode stage reports what is wrong with the file
  }
}

/**
 * Makes the result fit the platform's upload limit (see fit-size.ts): where the pipeline runs (the
 * worker), never in the bot. ffmpeg and the temporary directory are the media pipeline's.
 */
async function fitResult(media: MediaPipeline, result: AnyResult, maxBytes: number, signal: AbortSignal | undefined): Promise<AnyResult> {
  const started = performance.now();
  const fitted = await fitToBytes(
    { data: result.data, format: result.format, width: result.width, height: result.height },
    {
      maxBytes,
      ffmpeg: media.settings.paths,
      tempRoot: media.settings.tempDir,
      signal,
      durationS: result.media?.duration,
      hasAudio: result.media?.hasAudio,
    },
  );
  const ms = Math.round(performance.now() - started);
  const timings: Record<string, number> = { ...result.timings, fit: (result.timings.fit ?? 0) + ms };
  if (timings.total !== undefined) timings.total += ms;
  return {
    ...result,
    data: fitted.data,
    format: fitted.format as AnyFormat, // fitToBytes writes one of the six formats it was given
    mime: fitted.mime,
    width: fitted.width,
    height: fitted.height,
    notes: fitted.note ? [...result.notes, fitted.note] : result.notes,
    timings,
  };
}
