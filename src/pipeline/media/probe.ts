/**
 * What a GIF or video file holds, from ffprobe: container, codec, displayed size, rotation, frame
 * rate, duration, frame count and audio. Limits (length, frames, size) are judged on this before a
 * single frame is decoded.
 *
 * ffprobe's failures are turned into the user-facing errors:
 * - a cut-off file (an MP4 without its `moov` index, a WebM that ends early) → CORRUPT_VIDEO;
 * - anything ffprobe cannot make sense of → NOT_A_VIDEO;
 * - sound only (cover art does not count as a picture) → NO_VIDEO_STREAM;
 * - a stream without a size, frame rate or duration → CORRUPT_VIDEO.
 *
 * Rotation (phone videos): ffprobe ≥ 5 reports the display matrix as `side_data_list[].rotation`
 * (degrees counter-clockwise, may be negative); ffprobe 4.x also printed `tags.rotate` (clockwise).
 * ffmpeg applies the rotation itself when decoding (unless -noautorotate), so its frames come out at
 * the displayed size reported here.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { AnimefyError, isAnimefyError } from '../../errors.ts';
import { FfmpegError, runFfmpeg, type FfmpegPaths } from './ffmpeg.ts';
import { looksLikeIsoBmff } from './sniff.ts';

export interface AudioInfo {
  codec: string;
  channels: number;
  sampleRate: number;
}

export interface MediaInfo {
  /** ffprobe format_name, e.g. 'mov,mp4,m4a,3gp,3g2,mj2', 'gif', 'matroska,webm'. */
  container: string;
  /** e.g. 'h264', 'gif', 'vp9'. */
  videoCodec: string;
  /** Displayed size: swapped when the stream is rotated by 90/270. */
  width: number;
  height: number;
  /** 0, 90, 180 or 270: degrees counter-clockwise, as in ffprobe's display matrix. */
  rotation: number;
  /** avg_frame_rate when valid (> 0 and < 1000), else r_frame_rate; > 0. */
  fps: number;
  /** The same rate as ffprobe's rational string, e.g. '500000/33333' (usable as ffmpeg -framerate). */
  fpsRational: string;
  /** Seconds: stream duration, else format duration, else frames / fps. */
  duration: number;
  /** nb_frames when present, else Math.round(duration * fps). */
  frames: number;
  /** The first audio stream, if any. */
  audio?: AudioInfo;
  /**
   * VP8/VP9 with an alpha channel (WebM `alpha_mode=1`, e.g. Telegram video stickers): ffmpeg's own
   * VP8/VP9 decoders drop the alpha, libvpx's keep it.
   */
  alpha?: boolean;
}

export const PROBE_TIMEOUT_MS = 30_000;

/** The parts of ffprobe's JSON we read (everything is optional: ffprobe leaves out what it lacks). */
export interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  duration?: string;
  nb_frames?: string;
  channels?: number;
  sample_rate?: string;
  disposition?: { attached_pic?: number };
  tags?: Record<string, string>;
  side_data_list?: { rotation?: number | string }[];
}

export interface FfprobeOutput {
  streams?: FfprobeStream[];
  format?: { format_name?: string; duration?: string };
}

/** ffprobe / demuxer messages that mean "this file was cut off" rather than "this is not a video". */
const TRUNCATED = /moov atom not found|file ended prematurely|end of file|truncat|partial file|input\/output error/i;

/**
 * `ffprobe -v error -print_format json -show_format -show_streams <file>`, checked and summarised.
 * Throws AnimefyError: CORRUPT_VIDEO, NOT_A_VIDEO, NO_VIDEO_STREAM, CANCELLED, VIDEO_UNAVAILABLE.
 *
 * Name the file without a misleading extension: for data it cannot recognise, ffprobe falls back on
 * the extension (junk named `.png` "probes" as a 0x0 image, junk named `.mp4` as an MP4 whose moov
 * is missing).
 */
export async function probeMedia(paths: FfmpegPaths, file: string, options: { signal?: AbortSignal } = {}): Promise<MediaInfo> {
  // An absolute path: a name starting with '-' or 'proto:' is never read as an option or a protocol.
  const target = path.resolve(file);
  let stdout: Buffer;
  try {
    ({ stdout } = await runFfmpeg(
      paths.ffprobe,
      ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', target],
      { signal: options.signal, timeoutMs: PROBE_TIMEOUT_MS },
    ));
  } catch (err) {
    if (isAnimefyError(err)) throw err; // CANCELLED, VIDEO_UNAVAILABLE
    throw new AnimefyError((await isTruncation(err, target)) ? 'CORRUPT_VIDEO' : 'NOT_A_VIDEO', {}, { cause: err });
  }

  let output: FfprobeOutput;
  try {
    output = JSON.parse(stdout.toString('utf8')) as FfprobeOutput;
  } catch (err) {
    throw new AnimefyError('NOT_A_VIDEO', {}, { cause: err });
  }
  return mediaInfoFromProbe(output);
}

async function isTruncation(err: unknown, file: string): Promise<boolean> {
  if (!(err instanceof FfmpegError) || !TRUNCATED.test(err.stderr)) return false;
  // ffprobe picks the MP4 demuxer from a `.mp4`/`.mov` name alone, so junk with that name also ends in
  // "moov atom not found": only a file that really starts like an MP4 counts as a cut-off one.
  if (/moov atom not found/i.test(err.stderr)) return looksLikeIsoBmff(await readHead(file, 16));
  return true;
}

async function readHead(file: string, length: number): Promise<Uint8Array> {
  try {
    const handle = await fs.open(file, 'r');
    try {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch {
    return new Uint8Array(0);
  }
}

/** Turns ffprobe's JSON into MediaInfo, or throws the AnimefyError a user should see. */
export function mediaInfoFromProbe(output: FfprobeOutput): MediaInfo {
  const streams = output.streams ?? [];
  const video = streams.find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
  if (!video) throw new AnimefyError('NO_VIDEO_STREAM');

  const codedWidth = video.width ?? 0;
  const codedHeight = video.height ?? 0;
  if (!(codedWidth > 0 && codedHeight > 0)) throw new AnimefyError('CORRUPT_VIDEO');
  const rotation = streamRotation(video);
  const swap = rotation === 90 || rotation === 270;

  const rate = frameRate(video);
  if (!rate) throw new AnimefyError('CORRUPT_VIDEO');

  const nbFrames = positiveInt(video.nb_frames);
  const duration =
    positiveNumber(video.duration) ?? positiveNumber(output.format?.duration) ?? (nbFrames ? nbFrames / rate.fps : undefined);
  if (!duration) throw new AnimefyError('CORRUPT_VIDEO');
  const frames = nbFrames ?? Math.max(1, Math.round(duration * rate.fps));

  const audioStream = streams.find((s) => s.codec_type === 'audio');
  const audio: AudioInfo | undefined = audioStream
    ? {
        codec: audioStream.codec_name ?? 'unknown',
        channels: audioStream.channels ?? 0,
        sampleRate: positiveInt(audioStream.sample_rate) ?? 0,
      }
    : undefined;

  return {
    container: output.format?.format_name ?? 'unknown',
    videoCodec: video.codec_name ?? 'unknown',
    width: swap ? codedHeight : codedWidth,
    height: swap ? codedWidth : codedHeight,
    rotation,
    fps: rate.fps,
    fpsRational: rate.rational,
    duration,
    frames,
    ...(audio ? { audio } : {}),
    ...(hasVpxAlpha(video) ? { alpha: true } : {}),
  };
}

/** 0, 90, 180 or 270 degrees counter-clockwise (the display matrix's sense). */
function streamRotation(stream: FfprobeStream): number {
  for (const side of stream.side_data_list ?? []) {
    const r = Number(side.rotation);
    if (side.rotation !== undefined && Number.isFinite(r)) return quarterTurns(r);
  }
  // ffprobe 4.x: a clockwise `rotate` tag.
  const tag = Number(stream.tags?.rotate);
  if (stream.tags?.rotate !== undefined && Number.isFinite(tag)) return quarterTurns(-tag);
  return 0;
}

function quarterTurns(degrees: number): number {
  return (((Math.round(degrees / 90) * 90) % 360) + 360) % 360;
}

function frameRate(stream: FfprobeStream): { fps: number; rational: string } | undefined {
  for (const rational of [stream.avg_frame_rate, stream.r_frame_rate]) {
    const fps = parseRational(rational);
    if (rational && fps !== undefined && fps > 0 && fps < 1000) return { fps, rational };
  }
  return undefined;
}

function parseRational(text: string | undefined): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(?:\/(\d+(?:\.\d+)?))?$/.exec(text ?? '');
  if (!m) return undefined;
  const num = Number(m[1]);
  const den = m[2] === undefined ? 1 : Number(m[2]);
  return den > 0 ? num / den : undefined;
}

function positiveNumber(text: string | undefined): number | undefined {
  const n = Number(text);
  return text !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
}

function positiveInt(text: string | undefined): number | undefined {
  const n = positiveNumber(text);
  return n !== undefined && Number.isInteger(n) ? n : undefined;
}

function hasVpxAlpha(video: FfprobeStream): boolean {
  const codec = video.codec_name;
  return (codec === 'vp8' || codec === 'vp9') && Object.entries(video.tags ?? {}).some(([k, v]) => k.toLowerCase() === 'alpha_mode' && v === '1');
}
