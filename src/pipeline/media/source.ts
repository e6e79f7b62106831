/**
 * Frame sources: a GIF, video or animated WebP opened as the frame loop sees it (working size, frame
 * rate, delays, loop count, audio) with its limits enforced before anything is stylized. ffmpeg decodes
 * GIFs and videos to raw RGB over a pipe, streamed; sharp decodes animated WebP (ffmpeg 5 cannot).
 *
 * Big pictures (a 4K phone video, a large GIF) are scaled down to the working size by the decoder
 * itself, so the frame loop only ever sees working-size frames. What stays limited is the decoding:
 * every source frame is decoded at its full size first, so the cost is pixels × frames, capped by
 * ANIMEFY_MAX_DECODE_MEGAPIXEL_FRAMES (VIDEO_TOO_LARGE past it).
 */
import type { Readable } from 'node:stream';
import sharp, { type OutputInfo } from 'sharp';
import { AnimefyError } from '../../errors.ts';
import type { AnimationTiming } from './animation-timing.ts';
import { hasDecoder, passthroughArgs, runFfmpeg, spawnFfmpeg, type FfmpegPaths, type FfmpegProcess } from './ffmpeg.ts';
import { decodeArgs, flattenOnWhite, readRawFrames, type MediaFormat } from './frames.ts';
import { probeMedia, type AudioInfo, type MediaInfo } from './probe.ts';
import { displayDelays, rateForDelays, sum } from './timing.ts';

/** The media settings a source uses (see MediaSettings). */
export interface SourceSettings {
  maxSeconds: number;
  /** Decode work allowed per clip: source megapixels × source frames. */
  maxDecodeMegapixelFrames: number;
  workingSize: number;
  maxFps: number;
  paths: FfmpegPaths;
}

/** A decoded clip as the frame loop sees it. */
export interface FrameSource {
  /** Working (output) size. */
  width: number;
  height: number;
  /** Frames expected (exact for GIF and WebP, from duration × rate for video). */
  expected: number;
  /** Raw frame rate written to the encoder. */
  rate: string;
  fps: number;
  /** Per-frame delays in ms (GIF/WebP), else undefined (constant rate). */
  delays?: number[];
  loop: number | null;
  audio?: AudioInfo;
  duration: number;
  frames(): AsyncGenerator<Buffer>;
  /** Waits for the decoder to exit; rejects if it failed. */
  finished(): Promise<void>;
  /** Kills the decoder (idempotent). */
  stop(): void;
}

/** Probes a GIF or video, enforces the limits, and starts its decoder. */
export async function openWithFfmpeg(
  settings: SourceSettings,
  file: string,
  gif: AnimationTiming | undefined,
  format: MediaFormat,
  notes: string[],
  signal: AbortSignal | undefined,
): Promise<FrameSource> {
  const info = await probeMedia(settings.paths, file, { signal });
  checkLimits(settings, info, gif);
  if (!gif) await checkComplete(settings, file, info, signal);
  const { width, height } = workingSize(info.width, info.height, settings.workingSize, format !== 'gif');
  let rate: string | undefined;
  let fps = info.fps;
  if (!gif) {
    rate = info.fps > settings.maxFps + 0.01 ? String(settings.maxFps) : info.fpsRational;
    if (info.fps > settings.maxFps + 0.01) {
      notes.push(`Frame rate lowered from ${Math.round(info.fps)} to ${settings.maxFps} fps.`);
      fps = settings.maxFps;
    }
  }
  const expected = gif ? gif.frames : Math.max(1, Math.round(info.duration * fps));
  // Transparent parts (a GIF's, a video sticker's) are flattened onto white, as a viewer shows them;
  // decoded without their alpha they would come out black or in whatever colour the encoder kept.
  // (An ffmpeg without libvpx decodes them without their alpha: the clip still works.)
  const libvpx = info.videoCodec === 'vp8' ? 'libvpx' : 'libvpx-vp9';
  const vpxDecoder = info.alpha && (await hasDecoder(settings.paths.ffmpeg, libvpx)) ? libvpx : undefined;
  const alpha = !!gif || vpxDecoder !== undefined;
  const passthrough = await passthroughArgs(settings.paths.ffmpeg);
  let decoder: FfmpegProcess | undefined;
  const start = (): FfmpegProcess => {
    decoder ??= spawnFfmpeg(settings.paths.ffmpeg, decodeArgs(file, { width, height, rate, alpha, decoder: vpxDecoder, passthrough }), {
      signal,
      stdin: 'ignore',
      stdout: 'pipe',
    });
    return decoder;
  };
  const delays = gif?.delays.map((d) => d);
  return {
    width,
    height,
    expected,
    rate: gif ? rateForDelays(gif.delays).rate : rate!,
    fps: gif ? animationFps(gif) : fps,
    delays,
    loop: gif ? gif.loop : 0,
    audio: gif ? undefined : info.audio,
    duration: gif ? sum(displayDelays(gif.delays)) / 1000 : expected / fps,
    frames: async function* () {
      const proc = start();
      let complete = false;
      try {
        if (alpha) {
          for await (const rgba of readRawFrames(proc.stdout as Readable, width * height * 4)) yield flattenOnWhite(rgba);
        } else {
          yield* readRawFrames(proc.stdout as Readable, width * height * 3);
        }
        complete = true;
      } finally {
        if (!complete) proc.kill(); // the loop stopped early (an error, a cancel): stop decoding
      }
    },
    finished: () => decoder?.done ?? Promise.resolve(),
    stop: () => decoder?.kill(),
  };
}

/**
 * Animated WebP (ffmpeg 5 cannot decode it): sharp decodes the frames, each page resized to the
 * working size, bounded by the frame and decode-work limits.
 */
export async function openWebp(settings: SourceSettings, input: Uint8Array, timing: AnimationTiming, format: MediaFormat): Promise<FrameSource> {
  checkDecodeWork(settings, timing.width, timing.height, timing.frames, animationFps(timing));
  const { width, height } = workingSize(timing.width, timing.height, settings.workingSize, format !== 'gif');
  const delays = displayDelays(timing.delays);
  let stopped = false;
  return {
    width,
    height,
    expected: timing.frames,
    rate: rateForDelays(timing.delays).rate,
    fps: animationFps(timing),
    delays: timing.delays,
    // WebP counts plays, GIF counts repeats after the first: 0 stays "forever", 1 play is no loop.
    loop: timing.loop === null || timing.loop === 0 ? timing.loop : timing.loop === 1 ? null : timing.loop - 1,
    duration: sum(delays) / 1000,
    frames: async function* () {
      // One decode of every frame straight at the working size (sharp resizes each page), so the
      // clip in memory is at most ANIMEFY_MAX_GIF_FRAMES frames of the working size.
      let decoded: { data: Buffer; info: OutputInfo };
      try {
        decoded = await sharp(input, { animated: true, limitInputPixels: false })
          .flatten({ background: '#ffffff' })
          .resize(width, height, { fit: 'fill' })
          .removeAlpha()
          .raw()
          .toBuffer({ resolveWithObject: true });
      } catch (err) {
        throw new AnimefyError('CORRUPT_VIDEO', {}, { cause: err });
      }
      const frameBytes = width * height * 3;
      const pages = Math.floor(decoded.data.length / frameBytes);
      for (let p = 0; p < pages && !stopped; p++) yield decoded.data.subarray(p * frameBytes, (p + 1) * frameBytes);
    },
    finished: async () => {},
    stop: () => {
      stopped = true;
    },
  };
}

function checkLimits(settings: SourceSettings, info: MediaInfo, gif: AnimationTiming | undefined): void {
  // Length first: "too long, send at most 15 s" is the clearer answer when both apply.
  if (!gif && info.duration > settings.maxSeconds + 0.5) {
    throw new AnimefyError('VIDEO_TOO_LONG', { seconds: Math.round(info.duration), limit: settings.maxSeconds });
  }
  if (!gif && info.duration * Math.min(info.fps, settings.maxFps) < 0.5) throw new AnimefyError('CORRUPT_VIDEO');
  // Every source frame is decoded, also those a lower frame rate then drops.
  if (gif) checkDecodeWork(settings, info.width, info.height, gif.frames, animationFps(gif));
  else checkDecodeWork(settings, info.width, info.height, info.frames, info.fps);
}

/** Source megapixels × source frames: what decoding a clip costs before it is scaled down. */
function decodeMegapixelFrames(width: number, height: number, frames: number): number {
  return (width * height * frames) / 1e6;
}

/**
 * VIDEO_TOO_LARGE when decoding the clip is more work than allowed. The message says how much of a
 * clip this size would fit (frames, and seconds at its frame rate), so the user knows what to send.
 */
function checkDecodeWork(settings: SourceSettings, width: number, height: number, frames: number, fps: number): void {
  const limit = settings.maxDecodeMegapixelFrames;
  if (decodeMegapixelFrames(width, height, frames) <= limit) return;
  const fitting = Math.floor(limit / decodeMegapixelFrames(width, height, 1));
  throw new AnimefyError('VIDEO_TOO_LARGE', {
    width,
    height,
    frames,
    limit: fitting,
    seconds: Math.floor((fitting / fps) * 10) / 10,
  });
}

/** A GIF's or WebP's mean frame rate as it plays (browsers' minimum delays applied). */
function animationFps(timing: AnimationTiming): number {
  return 1000 / (sum(displayDelays(timing.delays)) / timing.frames);
}

/**
 * A file cut off after its header still probes fine: count the packets actually there (a demux,
 * no decoding) and refuse before stylizing anything when frames are missing.
 */
async function checkComplete(settings: SourceSettings, file: string, info: MediaInfo, signal: AbortSignal | undefined): Promise<void> {
  const { stdout } = await runFfmpeg(
    settings.paths.ffprobe,
    ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', file],
    { signal, timeoutMs: 60_000 },
  );
  const packets = Number.parseInt(stdout.toString().trim(), 10);
  if (!Number.isFinite(packets) || packets === 0) throw new AnimefyError('CORRUPT_VIDEO');
  if (packets < info.frames * 0.9 - 1) throw new AnimefyError('CORRUPT_VIDEO');
}

/** After decoding: a stream that ended well short of what its header promised was cut off. */
export function checkFrameCount(count: number, source: FrameSource): void {
  if (count === 0) throw new AnimefyError('CORRUPT_VIDEO');
  if (!source.delays && count < source.expected * 0.9 - 2) throw new AnimefyError('CORRUPT_VIDEO');
}

/** Working size: long side at most `limit`; even sides for H.264/VP9 (yuv420p). */
export function workingSize(width: number, height: number, limit: number, even: boolean): { width: number; height: number } {
  const k = Math.min(1, limit / Math.max(width, height));
  let w = Math.max(2, Math.round(width * k));
  let h = Math.max(2, Math.round(height * k));
  if (even) {
    w -= w % 2;
    h -= h % 2;
  }
  return { width: w, height: h };
}
