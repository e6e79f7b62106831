/**
 * Frames in and out of ffmpeg, streamed: a decoder writes raw RGB frames of a fixed size to a pipe
 * and `readRawFrames` cuts them apart as they arrive (never the whole clip in memory); `FrameWriter`
 * feeds an encoder's stdin with backpressure. The argument builders are the one place that knows how
 * each output format is encoded.
 */
import type { Readable, Writable } from 'node:stream';
import type { AudioInfo } from './probe.ts';

export type MediaFormat = 'gif' | 'mp4' | 'webm';
export const MEDIA_FORMATS: readonly MediaFormat[] = ['gif', 'mp4', 'webm'];
export const MEDIA_MIME: Record<MediaFormat, string> = { gif: 'image/gif', mp4: 'video/mp4', webm: 'video/webm' };
export const MEDIA_EXTENSIONS: Record<MediaFormat, string> = { gif: '.gif', mp4: '.mp4', webm: '.webm' };

export function isMediaFormat(value: unknown): value is MediaFormat {
  return typeof value === 'string' && (MEDIA_FORMATS as readonly string[]).includes(value);
}

export interface DecodeOptions {
  width: number;
  height: number;
  /** Resample to this constant rate (ffmpeg rational or number); omitted: every frame as stored (GIF). */
  rate?: string;
  /** RGBA frames (GIF or WebM transparency), flattened later with `flattenOnWhite`. */
  alpha?: boolean;
  /** A decoder to use instead of ffmpeg's default (libvpx-vp9 keeps a WebM's alpha channel). */
  decoder?: string;
  /** This ffmpeg's options for "every frame as stored", used without `rate` (see `passthroughArgs`). */
  passthrough: readonly string[];
}

/**
 * ffmpeg arguments that decode the first video stream of `input` to raw RGB frames on stdout, scaled
 * to the working size in the decoder (a 4K clip never reaches the pipeline at 4K).
 */
export function decodeArgs(input: string, options: DecodeOptions): string[] {
  const filters = [
    ...(options.rate ? [`fps=${options.rate}`] : []),
    `scale=${options.width}:${options.height}:flags=area`,
    options.alpha ? 'format=rgba' : 'format=rgb24',
  ];
  return [
    '-hide_banner',
    '-nostdin',
    '-v',
    'error',
    '-threads',
    '1',
    ...(options.decoder ? ['-c:v', options.decoder] : []),
    '-i',
    input,
    '-map',
    '0:v:0',
    '-vf',
    filters.join(','),
    ...(options.rate ? [] : options.passthrough),
    '-f',
    'rawvideo',
    '-pix_fmt',
    options.alpha ? 'rgba' : 'rgb24',
    'pipe:1',
  ];
}

/** RGBA → RGB over white (a transparent GIF background would otherwise come out black). */
export function flattenOnWhite(rgba: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe((rgba.length / 4) * 3);
  for (let p = 0, i = 0, o = 0; i < rgba.length; p++, i += 4, o += 3) {
    const a = rgba[i + 3];
    if (a === 255) {
      out[o] = rgba[i];
      out[o + 1] = rgba[i + 1];
      out[o + 2] = rgba[i + 2];
    } else {
      const k = a / 255;
      out[o] = Math.round(rgba[i] * k + 255 * (1 - k));
      out[o + 1] = Math.round(rgba[i + 1] * k + 255 * (1 - k));
      out[o + 2] = Math.round(rgba[i + 2] * k + 255 * (1 - k));
    }
  }
  return out;
}

export interface EncodeOptions {
  format: MediaFormat;
  width: number;
  height: number;
  /** Frame rate of the raw frames written (ffmpeg rational or number). */
  rate: string;
  output: string;
  /** Audio to carry over: the first audio stream of `file`, cut to `duration` seconds. */
  audio?: { file: string; info: AudioInfo; duration: number };
}

/** ffmpeg arguments that encode raw RGB frames from stdin into `output`. */
export function encodeArgs(options: EncodeOptions): string[] {
  const { format, width, height, rate, output, audio } = options;
  const args = ['-hide_banner', '-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-framerate', rate, '-i', 'pipe:0'];
  const withAudio = audio && format !== 'gif';
  if (withAudio) args.push('-i', audio.file);
  args.push('-map', '0:v:0');
  if (withAudio) args.push('-map', '1:a:0');
  switch (format) {
    case 'gif':
      args.push('-filter_complex', gifPaletteFilter(), '-loop', '0', '-f', 'gif');
      break;
    case 'mp4':
      args.push('-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-pix_fmt', 'yuv420p', '-profile:v', 'high');
      if (withAudio) args.push(...(audio.info.codec === 'aac' ? ['-c:a', 'copy'] : ['-c:a', 'aac', '-b:a', '128k']));
      args.push('-movflags', '+faststart', '-f', 'mp4');
      break;
    case 'webm':
      args.push('-c:v', 'libvpx-vp9', '-b:v', '0', '-crf', '33', '-deadline', 'realtime', '-cpu-used', '8', '-row-mt', '1', '-pix_fmt', 'yuv420p');
      if (withAudio) args.push(...(audio.info.codec === 'opus' ? ['-c:a', 'copy'] : ['-c:a', 'libopus', '-b:a', '96k']));
      args.push('-f', 'webm');
      break;
  }
  // Cut the audio (never the pictures) to the clip's length; the video ends by itself.
  if (withAudio) args.push('-t', audio.duration.toFixed(3));
  args.push('-threads', '2', '-y', output);
  return args;
}

/**
 * The GIF encoder's filter graph for the first input's video: one palette for the whole clip and
 * ordered dithering, both of which stay put from frame to frame, where per-frame palettes or error
 * diffusion would add their own flicker. The palette is built from half-size frames (the same
 * colours, a third less time for stylized frames). `size` scales the frames first (area filter), as
 * when a finished GIF is made smaller to fit an upload limit.
 */
export function gifPaletteFilter(size?: { width: number; height: number }): string {
  const scale = size ? `scale=${size.width}:${size.height}:flags=area,` : '';
  return `[0:v]${scale}split[a][b];[a]scale=iw/2:ih/2:flags=area,palettegen=stats_mode=full[p];[b][p]paletteuse=dither=bayer:bayer_scale=4:diff_mode=rectangle`;
}

/** Cuts a raw RGB stream into frames of `frameBytes`; a short tail (a cut-off frame) is dropped. */
export async function* readRawFrames(stream: Readable, frameBytes: number): AsyncGenerator<Buffer> {
  let frame = Buffer.allocUnsafe(frameBytes);
  let filled = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(frameBytes - filled, chunk.length - offset);
      chunk.copy(frame, filled, offset, offset + n);
      filled += n;
      offset += n;
      if (filled === frameBytes) {
        yield frame;
        frame = Buffer.allocUnsafe(frameBytes);
        filled = 0;
      }
    }
  }
}

/** Writes frames to an encoder's stdin, waiting whenever its pipe is full. */
export class FrameWriter {
  private failed?: Error;

  constructor(private readonly stdin: Writable) {
    stdin.on('error', (err: Error) => {
      this.failed = err;
    });
  }

  async write(frame: Uint8Array): Promise<void> {
    if (this.failed) throw this.failed;
    if (this.stdin.write(frame)) return;
    await new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        this.stdin.off('close', onClose);
        resolve();
      };
      const onClose = () => {
        this.stdin.off('drain', onDrain);
        reject(this.failed ?? new Error('encoder closed its input'));
      };
      this.stdin.once('drain', onDrain);
      this.stdin.once('close', onClose);
    });
  }

  end(): Promise<void> {
    return new Promise((resolve) => this.stdin.end(resolve));
  }
}
