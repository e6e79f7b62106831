/**
 * One entry to the pipeline for every input; the queue's workers and the CLI both call it. It looks at
 * what the bytes really are, once (a declared kind only counts when the bytes say nothing), sends
 * pictures to the image pipeline and GIFs, animated WebP and videos to the media pipeline, picks the
 * output format the caller left open, and with `maxBytes` makes the result fit an upload limit
 * (fit-size.ts). Face mode on a clip is refused by the media pipeline (`clipMode` in modes.ts), erase
 * here (`clipOperation`); the people preview of a clip is drawn on its first frame, and its landmarks
 * on every frame (MediaPipeline.landmarks).
 */
import sharp from 'sharp';
import { isOutputFormat, type OutputFormat } from './encode.ts';
import { fitToBytes } from './fit-size.ts';
import type { ImagePipeline } from './image-pipeline.ts';
import { isMediaFormat, type MediaFormat } from './media/frames.ts';
import type { FrameTransform, MediaDetails, MediaPipeline } from './media/media-pipeline.ts';
import { SmileClip } from './smile.ts';
import { detectMediaKind, type MediaKind } from './media/sniff.ts';
import { checkCaption } from './caption.ts';
import { makeEmoji, type EmojiFormat } from './emoji.ts';
import { DEFAULT_EMOJI_EFFECT } from './emoji-effects.ts';
import { clipOperation, isStickerOperation } from './modes.ts';
import { DEFAULT_STICKER_SIZE } from './sticker-size.ts';
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
  if (isStickerOperation(request.operation)) return runSticker(pipelines, input, kind, request);
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

/**
 * A sticker, or an animated emoji drawn from one: a clip's first frame stands for the clip. The emoji
 * animates the finished sticker (its PNG, at 512 px), so no model runs per frame; WebM (a Telegram
 * video sticker) or GIF (Discord, the CLI; the default).
 */
async function runSticker(pipelines: Pipelines, input: Uint8Array, kind: MediaKind, request: AnyRequest): Promise<AnyResult> {
  const started = performance.now();
  const picture = kind === 'image' ? input : await firstFramePng(pipelines.media, input, request.signal);
  const emoji = request.operation === 'emoji';
  if (emoji && request.text !== undefined) checkCaption(request.text); // before any model runs
  const stickerFormat = emoji ? 'png' : (preferred(request.format, isOutputFormat) ?? 'webp');
  const made = await runImage(pipelines.image, picture, {
    ...request,
    operation: 'sticker',
    format: stickerFormat,
    // An emoji is drawn from the full-size sticker and scaled as it is animated.
    size: emoji ? DEFAULT_STICKER_SIZE : request.size,
  });
  if (!emoji) return { ...made, kind };
  const format: EmojiFormat = preferred(request.format, isMediaFormat) === 'webm' ? 'webm' : 'gif';
  const t0 = performance.now();
  request.onProgress?.({ stage: 'frames', percent: 80 });
  const { data, info } = await sharp(made.data).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const media = pipelines.media.settings;
  const animated = await makeEmoji(
    { width: info.width, height: info.height, data },
    { effect: request.effect ?? DEFAULT_EMOJI_EFFECT, text: request.text, format, size: request.size },
    { ffmpeg: media.paths, tempRoot: media.tempDir, signal: request.signal },
  );
  request.onProgress?.({ stage: 'encode', percent: 100 });
  const timings = { ...made.timings, emoji: Math.round(performance.now() - t0), total: Math.round(performance.now() - started) };
  return {
    ...made,
    operation: 'emoji',
    kind,
    data: animated.data,
    format,
    mime: animated.mime,
    width: animated.width,
    height: animated.height,
    timings,
    media: { frames: animated.frames, fps: animated.fps, duration: animated.duration, hasAudio: false, faceRuns: 0, faceReuses: 0 },
  };
}

/** A clip's first frame as a PNG, for a sticker or an emoji. */
async function firstFramePng(media: MediaPipeline, input: Uint8Array, signal: AbortSignal | undefined): Promise<Buffer> {
  const frame = await media.firstFrame(input, signal);
  return sharp(frame.rgb, { raw: { width: frame.width, height: frame.height, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
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
    body: request.body,
    effect: request.effect,
    text: request.text,
    size: request.size,
    smile: request.smile,
    format,
    signal: request.signal,
    onProgress: request.onProgress,
  });
  return { ...result, kind: 'image' };
}

async function runMedia(media: MediaPipeline, input: Uint8Array, kind: MediaKind, request: AnyRequest): Promise<AnyResult> {
  const operation = clipOperation(request.operation);
  if (operation === 'landmarks' || operation === 'smile') {
    // The clip stays real: no style model runs.
    const common = { format: preferred(request.format, isMediaFormat), style: request.style, mode: request.mode, signal: request.signal, onProgress: request.onProgress };
    const result = operation === 'smile' ? await media.smile(input, { ...common, amount: request.smile }) : await media.landmarks(input, common);
    return { ...result, kind };
  }
  if (operation === 'people') {
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
    // `--smile` with a style: the faces smile on every frame before it is stylized.
    ...(request.smile !== undefined ? { transform: smileTransform(media, request.smile) } : {}),
    signal: request.signal,
    onProgress: request.onProgress,
  });
  return { ...result, kind };
}

function smileTransform(media: MediaPipeline, amount: number): FrameTransform {
  const smiler = new SmileClip(media.image.runtime, { amount });
  return (photo, faces, index) => smiler.frame(photo, faces, index);
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
