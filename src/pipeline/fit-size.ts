/**
 * Fit stage: makes a finished result fit the platform's upload limit (Telegram bots 50 MB, Discord
 * often 10 MB). It runs in the worker, after the pipeline, so a bot only ever sends what it is given.
 *
 * - Pictures (sharp): JPEG and WebP are re-encoded at falling quality, then at smaller sizes. A PNG
 *   whose transparency matters first tries a palette PNG, then becomes a WebP (alpha kept); any other
 *   PNG becomes a JPEG. At least 256 px are kept on the long side.
 * - MP4 / WebM (ffmpeg): one re-encode at the bitrate the duration allows (H.264 or VP9, the audio
 *   kept as AAC or Opus), smaller when that bitrate is too low for the picture size; one more try at
 *   ¾ of the bitrate and a smaller size when the first came out too big.
 * - GIF (ffmpeg): the same single-palette encoder as the pipeline's, at smaller sizes, each frame's
 *   delay and the loop count written back afterwards. At least 128 px on the long side.
 *
 * A result that already fits comes back untouched. One that cannot be made to fit is
 * RESULT_TOO_LARGE; an aborted signal is CANCELLED (ffmpeg is killed at once).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { AnimefyError, formatBytes, throwIfCancelled } from '../errors.ts';
import { FORMAT_MIME, type OutputFormat } from './encode.ts';
import { readGifTiming, writeGifTiming } from './media/animation-timing.ts';
import { passthroughArgs, runFfmpeg, type FfmpegPaths } from './media/ffmpeg.ts';
import { gifPaletteFilter, MEDIA_MIME, type MediaFormat } from './media/frames.ts';
import { probeMedia } from './media/probe.ts';
import { withTempDir } from './media/temp.ts';

export interface FitInput {
  data: Buffer;
  /** png | jpeg | webp | gif | mp4 | webm */
  format: string;
  width: number;
  height: number;
}

export interface FitOptions {
  /** The upload limit in bytes. */
  maxBytes: number;
  ffmpeg: FfmpegPaths;
  /** Where temporary files go (default os.tmpdir()); they are always removed. */
  tempRoot?: string;
  signal?: AbortSignal;
  /** MP4/WebM: the clip's length in seconds when known (the probed length is used when longer). */
  durationS?: number;
  /** MP4/WebM: whether it has a sound track (else probed). */
  hasAudio?: boolean;
}

export interface FitResult {
  data: Buffer;
  format: string;
  mime: string;
  width: number;
  height: number;
  /** User-facing note, e.g. "I made the result smaller (9.8 MB) to fit the 10 MB upload limit." */
  note?: string;
}

/** Long side kept at the least: pictures, GIFs, videos (or the source's, when it is smaller). */
export const MIN_PICTURE_SIDE = 256;
export const MIN_GIF_SIDE = 128;
export const MIN_VIDEO_SIDE = 128;

/** Picture qualities tried at full size, then at each smaller size. */
const FULL_SIZE_QUALITIES = [85, 75, 65, 55];
const SCALED_QUALITIES = [75, 55];
/** Each smaller size is at most this fraction of the last one's side. */
const STEP = 0.8;
/** Share of the byte budget the video and audio streams may use (the rest: container, overshoot). */
const VIDEO_BUDGET = 0.9;
/** Below this many bits per pixel per frame, the picture is scaled down too. */
const MIN_BITS_PER_PIXEL = 0.05;

const MIME: Record<string, string> = { ...FORMAT_MIME, ...MEDIA_MIME };
const FORMAT_NAMES: Record<string, string> = { png: 'a PNG', jpeg: 'a JPEG', webp: 'a WebP', gif: 'a GIF', mp4: 'an MP4', webm: 'a WebM' };

export async function fitToBytes(input: FitInput, options: FitOptions): Promise<FitResult> {
  const { maxBytes, signal } = options;
  if (!(Number.isFinite(maxBytes) && maxBytes > 0)) throw new RangeError(`maxBytes must be a positive number, got ${maxBytes}`);
  throwIfCancelled(signal);
  const mime = MIME[input.format];
  if (!mime) throw new TypeError(`fitToBytes cannot re-encode the format "${input.format}"`);
  if (input.data.byteLength <= maxBytes) {
    return { data: input.data, format: input.format, mime, width: input.width, height: input.height };
  }
  let fitted: Omit<FitResult, 'mime' | 'note'>;
  switch (input.format) {
    case 'png':
    case 'jpeg':
    case 'webp':
      fitted = await fitPicture(input, options);
      break;
    case 'gif':
      fitted = await fitGif(input, options);
      break;
    default:
      fitted = await fitVideo(input, options);
      break;
  }
  return { ...fitted, mime: MIME[fitted.format], note: fitNote(fitted, input.format, maxBytes) };
}

function fitNote(result: { data: Buffer; format: string }, from: string, maxBytes: number): string {
  const size = formatBytesDown(result.data.byteLength);
  const limit = formatBytes(maxBytes);
  return result.format === from
    ? `I made the result smaller (${size}) to fit the ${limit} upload limit.`
    : `I sent the result as ${FORMAT_NAMES[result.format] ?? result.format} (${size}) to fit the ${limit} upload limit.`;
}

/** Like formatBytes, but rounded down, so a result never reads as big as the limit it fits under. */
function formatBytesDown(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.floor((bytes / (1024 * 1024)) * 10) / 10} MB`;
  if (bytes >= 1024) return `${Math.floor(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

function tooLarge(maxBytes: number): AnimefyError {
  return new AnimefyError('RESULT_TOO_LARGE', { limit: formatBytes(maxBytes) });
}

/**
 * The next, smaller scale: the side shrinks by at least STEP, and by more when the last try was far
 * over the limit (size grows with the side to the power `exponent`); never below `minScale`.
 * undefined when `scale` already is the smallest allowed.
 */
function nextScale(scale: number, size: number, maxBytes: number, minScale: number, exponent: number): number | undefined {
  if (scale <= minScale + 1e-9) return undefined;
  const guess = 0.95 * Math.pow(maxBytes / size, 1 / exponent);
  return Math.max(minScale, scale * Math.min(STEP, guess));
}

function scaledSize(width: number, height: number, scale: number, even: boolean): { width: number; height: number } {
  let w = Math.max(1, Math.round(width * scale));
  let h = Math.max(1, Math.round(height * scale));
  if (even) {
    w = Math.max(2, w - (w % 2));
    h = Math.max(2, h - (h % 2));
  }
  return { width: w, height: h };
}

/** The smallest scale that keeps `minSide` on the long side (1 when the source is smaller already). */
function minScaleFor(width: number, height: number, minSide: number): number {
  return Math.min(1, minSide / Math.max(width, height));
}

// ---------------------------------------------------------------------------------------------
// Pictures

interface Decoded {
  raw: Buffer;
  width: number;
  height: number;
  channels: 3 | 4;
}

async function fitPicture(input: FitInput, options: FitOptions): Promise<Omit<FitResult, 'mime' | 'note'>> {
  const { maxBytes, signal } = options;
  const decoded = await decodePicture(input.data);
  throwIfCancelled(signal);
  let target: 'jpeg' | 'webp';
  if (input.format === 'png') {
    if (decoded.channels === 4) {
      // Transparency matters: a palette PNG first (same format, often a third of the size).
      const png = await encodePicture(decoded, 'png', 1, 100);
      throwIfCancelled(signal);
      if (png.data.byteLength <= maxBytes) return { ...png, format: 'png' };
      target = 'webp';
    } else {
      target = 'jpeg';
    }
  } else {
    target = input.format as 'jpeg' | 'webp';
  }

  const minScale = minScaleFor(decoded.width, decoded.height, MIN_PICTURE_SIDE);
  let scale: number | undefined = 1;
  while (scale !== undefined) {
    let last = 0;
    for (const quality of scale === 1 ? FULL_SIZE_QUALITIES : SCALED_QUALITIES) {
      throwIfCancelled(signal);
      const out = await encodePicture(decoded, target, scale, quality);
      if (out.data.byteLength <= maxBytes) return { ...out, format: target };
      last = out.data.byteLength;
    }
    scale = nextScale(scale, last, maxBytes, minScale, 2);
  }
  throw tooLarge(maxBytes);
}

/** Decoded once (upright, as displayed, in sRGB); an alpha channel that is opaque everywhere is dropped. */
async function decodePicture(data: Buffer): Promise<Decoded> {
  const { data: raw, info } = await sharp(data).rotate().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const { width, height, channels } = info;
  if (channels === 3) return { raw, width, height, channels };
  if (channels !== 4) throw new TypeError(`unexpected channel count ${channels}`);
  for (let i = 3; i < raw.length; i += 4) if (raw[i] !== 255) return { raw, width, height, channels };
  const rgb = await sharp(raw, { raw: { width, height, channels } }).removeAlpha().raw().toBuffer();
  return { raw: rgb, width, height, channels: 3 };
}

async function encodePicture(
  image: Decoded,
  format: OutputFormat,
  scale: number,
  quality: number,
): Promise<{ data: Buffer; width: number; height: number }> {
  const { width, height } = scaledSize(image.width, image.height, scale, false);
  let pipeline = sharp(image.raw, { raw: { width: image.width, height: image.height, channels: image.channels } });
  if (width !== image.width || height !== image.height) pipeline = pipeline.resize(width, height, { fit: 'fill', kernel: 'lanczos3' });
  switch (format) {
    case 'jpeg':
      pipeline = pipeline.jpeg({ quality, chromaSubsampling: '4:2:0' });
      break;
    case 'webp':
      pipeline = pipeline.webp({ quality, effort: 4 });
      break;
    case 'png':
      pipeline = pipeline.png({ palette: true, quality, effort: 7, compressionLevel: 9 });
      break;
  }
  return { data: await pipeline.toBuffer(), width, height };
}

// ---------------------------------------------------------------------------------------------
// GIF

async function fitGif(input: FitInput, options: FitOptions): Promise<Omit<FitResult, 'mime' | 'note'>> {
  const { maxBytes, signal } = options;
  const timing = readGifTiming(input.data);
  const width = input.width || timing.width;
  const height = input.height || timing.height;
  const minScale = minScaleFor(width, height, MIN_GIF_SIDE);
  return withTempDir(options.tempRoot, async (dir) => {
    const source = path.join(dir, 'input.gif');
    const output = path.join(dir, 'output.gif');
    await writeFile(source, input.data);
    const passthrough = await passthroughArgs(options.ffmpeg.ffmpeg);
    // GIF sizes shrink more slowly than their area (per-frame overhead, LZW): side^1.4 fits better.
    let scale = nextScale(1, input.data.byteLength, maxBytes, minScale, 1.4);
    while (scale !== undefined) {
      throwIfCancelled(signal);
      const size = scaledSize(width, height, scale, false);
      await runFfmpeg(
        options.ffmpeg.ffmpeg,
        ['-hide_banner', '-nostdin', '-v', 'error', '-i', source, '-filter_complex', gifPaletteFilter(size),
          ...passthrough, '-loop', '0', '-threads', '2', '-f', 'gif', '-y', output],
        { signal },
      );
      let data: Buffer = await readFile(output);
      // ffmpeg writes its own delays (from rounded timestamps) and loop: put the originals back.
      if (readGifTiming(data).frames === timing.frames) data = writeGifTiming(data, timing.delays, timing.loop);
      if (data.byteLength <= maxBytes) return { data, format: 'gif', ...size };
      scale = nextScale(scale, data.byteLength, maxBytes, minScale, 1.4);
    }
    throw tooLarge(maxBytes);
  });
}

// ---------------------------------------------------------------------------------------------
// MP4 and WebM

/** Audio bitrates (bits/s): preferred, and the least used when the budget is tight. */
const AUDIO = {
  mp4: { preferred: 96_000, least: 32_000, monoBelow: 64_000 },
  webm: { preferred: 64_000, least: 24_000, monoBelow: 48_000 },
} as const;
/** The audio may take at most this share of a tight budget (it then drops towards `least`). */
const AUDIO_SHARE = 0.3;

async function fitVideo(input: FitInput, options: FitOptions): Promise<Omit<FitResult, 'mime' | 'note'>> {
  const { maxBytes, signal } = options;
  const format = input.format as Exclude<MediaFormat, 'gif'>;
  return withTempDir(options.tempRoot, async (dir) => {
    const source = path.join(dir, `input.${format}`);
    const output = path.join(dir, `output.${format}`);
    await writeFile(source, input.data);
    const info = await probeMedia(options.ffmpeg, source, { signal });
    // The longer of the two: the budget is per second, and the sound may run a little past the picture.
    const duration = Math.max(options.durationS ?? 0, info.duration);
    const hasAudio = options.hasAudio ?? !!info.audio;
    const width = input.width || info.width;
    const height = input.height || info.height;

    const total = (maxBytes * 8 * VIDEO_BUDGET) / duration;
    const audio = hasAudio ? audioBitrate(format, total) : 0;
    let video = total - audio;
    if (video < 1000) throw tooLarge(maxBytes);
    const minScale = minScaleFor(width, height, MIN_VIDEO_SIDE);
    // Enough bits per pixel for a decent picture, else a smaller picture.
    const bpp = video / (width * height * info.fps);
    let scale = Math.max(minScale, Math.min(1, Math.sqrt(bpp / MIN_BITS_PER_PIXEL)));

    for (let attempt = 0; attempt < 2; attempt++) {
      throwIfCancelled(signal);
      const size = scaledSize(width, height, scale, true);
      await runFfmpeg(options.ffmpeg.ffmpeg, videoArgs({ format, source, output, size, video, audio, channels: info.audio?.channels ?? 2 }), { signal });
      const data = await readFile(output);
      if (data.byteLength <= maxBytes) return { data, format, ...size };
      video *= 0.75;
      scale = Math.max(minScale, scale * STEP);
    }
    throw tooLarge(maxBytes);
  });
}

/** The preferred bitrate, or less (down to `least`) when it would take over AUDIO_SHARE of the budget. */
function audioBitrate(format: Exclude<MediaFormat, 'gif'>, total: number): number {
  const { preferred, least } = AUDIO[format];
  const share = Math.floor((total * AUDIO_SHARE) / 8000) * 8000;
  return Math.max(least, Math.min(preferred, share));
}

function videoArgs(o: {
  format: Exclude<MediaFormat, 'gif'>;
  source: string;
  output: string;
  size: { width: number; height: number };
  video: number;
  audio: number;
  channels: number;
}): string[] {
  const kbps = (bits: number) => `${Math.max(1, Math.floor(bits / 1000))}k`;
  const args = ['-hide_banner', '-nostdin', '-v', 'error', '-i', o.source, '-map', '0:v:0'];
  args.push(...(o.audio > 0 ? ['-map', '0:a:0?'] : ['-an']));
  args.push('-vf', `scale=${o.size.width}:${o.size.height}:flags=area`);
  const rate = ['-b:v', kbps(o.video), '-maxrate', kbps(o.video), '-bufsize', kbps(o.video * 2)];
  if (o.format === 'mp4') {
    args.push('-c:v', 'libx264', '-preset', 'veryfast', ...rate, '-pix_fmt', 'yuv420p', '-profile:v', 'high');
  } else {
    args.push('-c:v', 'libvpx-vp9', ...rate, '-deadline', 'realtime', '-cpu-used', '8', '-row-mt', '1', '-pix_fmt', 'yuv420p');
  }
  if (o.audio > 0) {
    args.push(...(o.format === 'mp4' ? ['-c:a', 'aac'] : ['-c:a', 'libopus']), '-b:a', kbps(o.audio));
    if (o.channels > 1 && o.audio < AUDIO[o.format].monoBelow) args.push('-ac', '1');
  }
  if (o.format === 'mp4') args.push('-movflags', '+faststart', '-f', 'mp4');
  else args.push('-f', 'webm');
  args.push('-threads', '2', '-y', o.output);
  return args;
}
