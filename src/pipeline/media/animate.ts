/**
 * GIF and video through the picture pipeline, frame by frame:
 *
 *   sniff + limits → probe (ffprobe) → decode (ffmpeg, raw RGB over a pipe, streamed)
 *     → per frame: faces (tracked, smoothed) → person mask (smoothed) → Animefier.stylizeFrame
 *       → temporal blend → encode (ffmpeg: H.264/VP9 + the original audio, or GIF with one palette)
 *
 * Frames are stylized at most ANIMEFY_VIDEO_WORKING_SIZE on the long side, at the source frame rate
 * (capped at ANIMEFY_MAX_VIDEO_FPS); MP4/WebM keep the source duration and its audio, GIF keeps every
 * frame's delay and the loop count. Only a few frames are in memory at a time (the face smoothing
 * window). All temporary files live in one directory that is removed whatever happens, and every
 * ffmpeg process is killed when the job fails or is cancelled.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import sharp, { type OutputInfo } from 'sharp';
import type { Config } from '../../config.ts';
import { AnimefyError, isAnimefyError, throwIfCancelled } from '../../errors.ts';
import type { Animefier, AnimefyResult, ProgressEvent } from '../animefy.ts';
import { faceBoxes, type FaceRenderer } from '../blend-faces.ts';
import { detectFaces, type Face } from '../faces.ts';
import { imageFromBytes, imageToBytes } from '../image.ts';
import type { FaceLook, Mode, Quality, UpscaleFactor } from '../modes.ts';
import { segmentPerson } from '../person-mask.ts';
import { isGif, readGifTiming, readWebpTiming, writeGifTiming, type AnimationTiming } from './animation-timing.ts';
import { FfmpegError, hasDecoder, resolveFfmpegPaths, runFfmpeg, spawnFfmpeg, type FfmpegPaths, type FfmpegProcess } from './ffmpeg.ts';
import { decodeArgs, encodeArgs, flattenOnWhite, FrameWriter, MEDIA_MIME, readRawFrames, type MediaFormat } from './frames.ts';
import { probeMedia, type AudioInfo, type MediaInfo } from './probe.ts';
import { detectMediaKind } from './sniff.ts';
import { withTempDir } from './temp.ts';
import { FACE_WINDOW, FaceCropCache, FaceTrackRenderers, FaceTracker, FlickerMeter, MaskSmoother, TemporalBlender } from './temporal.ts';

export interface MediaSettings {
  maxSeconds: number;
  maxGifFrames: number;
  maxPixels: number;
  workingSize: number;
  maxFps: number;
  faceCropSize: number;
  /** Frames in a row a moving face may reuse its last stylized crop (0: only still faces do). */
  faceReuse: number;
  /** Temporal smoothing strength, 0..1. */
  temporal: number;
  faceThreshold: number;
  tempDir?: string;
  paths: FfmpegPaths;
}

export function mediaSettingsFromConfig(config: Config): MediaSettings {
  return {
    maxSeconds: config.ANIMEFY_MAX_VIDEO_SECONDS,
    maxGifFrames: config.ANIMEFY_MAX_GIF_FRAMES,
    maxPixels: config.ANIMEFY_MAX_VIDEO_PIXELS,
    workingSize: config.ANIMEFY_VIDEO_WORKING_SIZE,
    maxFps: config.ANIMEFY_MAX_VIDEO_FPS,
    faceCropSize: config.ANIMEFY_VIDEO_FACE_SIZE,
    faceReuse: config.ANIMEFY_VIDEO_FACE_REUSE,
    temporal: config.ANIMEFY_TEMPORAL_SMOOTHING,
    faceThreshold: config.ANIMEFY_FACE_THRESHOLD,
    tempDir: config.ANIMEFY_TEMP_DIR,
    paths: resolveFfmpegPaths(config),
  };
}

export interface MediaRequest {
  style: string;
  mode: Mode;
  quality: Quality;
  /** Output format; default GIF for a GIF or animated WebP, MP4 for a video. */
  format?: MediaFormat;
  /** Not applied to frames (too slow per frame); asking for it adds a note. */
  upscale?: UpscaleFactor;
  /** How faces are drawn (default `anime`); decided once per face track. */
  faces?: FaceLook;
  /** Overrides the configured temporal smoothing (0 = off). */
  temporal?: number;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}

export interface MediaDetails {
  /** Frames stylized (and in the output). */
  frames: number;
  fps: number;
  /** Seconds. */
  duration: number;
  hasAudio: boolean;
  /** Output change over input change between consecutive frames (see temporal.ts); ≤ 1.3 is the goal. */
  flicker?: number;
  /** Face model runs, and face crops reused from an earlier frame. */
  faceRuns: number;
  faceReuses: number;
}

export interface MediaResult extends Omit<AnimefyResult, 'format'> {
  format: MediaFormat;
  media: MediaDetails;
}

/** A decoded clip as the frame loop sees it. */
interface FrameSource {
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

/**
 * Frames with a shorter side are enlarged for the scene model. Photos use 256 (finer strokes); for
 * frames 160 keeps the look (bolder strokes) at half the cost of a 320x180 GIF frame.
 */
const SCENE_MIN_SIDE = 160;
const PROBE_PERCENT = 2;
const FRAMES_PERCENT = 95;

export class MediaPipeline {
  constructor(
    readonly animefier: Animefier,
    readonly settings: MediaSettings,
  ) {}

  static fromConfig(config: Config, animefier: Animefier): MediaPipeline {
    return new MediaPipeline(animefier, mediaSettingsFromConfig(config));
  }

  async animefy(input: Uint8Array, request: MediaRequest): Promise<MediaResult> {
    const started = performance.now();
    const { signal } = request;
    if (request.mode === 'face') {
      throw new AnimefyError('BAD_OPTION', { detail: 'Face mode works on photos. For GIFs and videos use full, person or background.' });
    }
    const mode = request.mode;
    const style = this.animefier.style(request.style);
    const sniffed = detectMediaKind(input);
    if (sniffed === 'image') throw new AnimefyError('NOT_A_VIDEO');
    const webp = readWebpTiming(input);
    const gif = !webp && isGif(input) ? readGifTiming(input) : undefined;
    const timing = webp ?? gif;
    if (timing && timing.frames > this.settings.maxGifFrames) {
      throw new AnimefyError('TOO_MANY_FRAMES', { frames: timing.frames, limit: this.settings.maxGifFrames });
    }
    const format = request.format ?? (timing ? 'gif' : 'mp4');
    const notes: string[] = [];
    if (request.upscale && request.upscale > 1) notes.push('Upscaling is for photos; GIFs and videos keep their working size.');
    const report = (event: ProgressEvent) => request.onProgress?.(event);
    report({ stage: 'decode', percent: 0 });

    return withTempDir(this.settings.tempDir, async (dir) => {
      const inputFile = path.join(dir, webp ? 'input.webp' : gif ? 'input.gif' : 'input');
      await writeFile(inputFile, input);
      const timings: Record<string, number> = {};
      let t0 = performance.now();
      const source = webp
        ? await this.openWebp(input, webp, format)
        : await this.openWithFfmpeg(inputFile, gif, format, notes, signal);
      timings.decode = Math.round(performance.now() - t0);
      report({ stage: 'decode', percent: PROBE_PERCENT });

      const output = path.join(dir, `output.${format}`);
      // MP4/WebM: a constant rate, GIF frames repeated to honour uneven delays; GIF: delays written after.
      const pacing = format === 'gif' ? { rate: source.rate, repeats: undefined } : this.encoderTiming(source);
      const encoder = spawnFfmpeg(
        this.settings.paths.ffmpeg,
        encodeArgs({
          format,
          width: source.width,
          height: source.height,
          rate: pacing.rate,
          output,
          audio: source.audio && { file: inputFile, info: source.audio, duration: source.duration },
        }),
        { signal, stdin: 'pipe', stdout: 'ignore' },
      );
      const writer = new FrameWriter(encoder.stdin as Writable);
      const { repeats } = pacing;

      t0 = performance.now();
      let loop: FrameLoopResult;
      try {
        loop = await this.stylizeFrames(source, { style: request.style, mode, quality: request.quality, faces: request.faces, temporal: request.temporal, signal }, async (frame, index) => {
          const times = repeats?.[index] ?? 1;
          for (let r = 0; r < times; r++) await writer.write(frame);
        }, (done) => {
          const total = Math.max(source.expected, done);
          report({
            stage: 'frames',
            percent: Math.round((PROBE_PERCENT + (FRAMES_PERCENT - PROBE_PERCENT) * (done / total)) * 10) / 10,
            frame: done,
            frames: total,
          });
        });
        timings.frames = Math.round(performance.now() - t0);
        t0 = performance.now();
        report({ stage: 'encode', percent: FRAMES_PERCENT });
        await source.finished().catch((err: unknown) => {
          throw loop.count > 0 && isFfmpegFailure(err) ? new AnimefyError('CORRUPT_VIDEO', {}, { cause: err }) : err;
        });
        this.checkFrameCount(loop.count, source);
        await writer.end();
        await encoder.done;
      } catch (err) {
        source.stop();
        encoder.kill();
        const [decoder, encoded] = await Promise.allSettled([source.finished(), encoder.done]);
        throw clearestError(err, [decoder, encoded]);
      }

      let data: Buffer = await readFile(output);
      if (format === 'gif') {
        const delays = source.delays ?? new Array<number>(loop.count).fill(1000 / source.fps);
        data = writeGifTiming(data, delays.slice(0, loop.count), source.delays ? source.loop : 0);
      }
      timings.encode = Math.round(performance.now() - t0);
      timings.total = Math.round(performance.now() - started);
      Object.assign(timings, loop.timings);
      report({ stage: 'encode', percent: 100 });
      const duration = source.delays ? sum(displayDelays(source.delays.slice(0, loop.count))) / 1000 : loop.count / source.fps;
      return {
        data,
        format,
        mime: MEDIA_MIME[format],
        width: source.width,
        height: source.height,
        style: style.id,
        mode,
        faces: loop.maxFaces,
        stylizedFaces: loop.faceRuns,
        // One entry per face track (its mean box over the clip); input and working size are the same.
        faceBoxes: faceBoxes(
          loop.tracks.map((t) => t.face),
          loop.tracks.map((t) => t.renderer),
          1,
        ),
        timings,
        notes,
        media: {
          frames: loop.count,
          fps: Math.round(source.fps * 1000) / 1000,
          duration: Math.round(duration * 1000) / 1000,
          hasAudio: format !== 'gif' && !!source.audio,
          flicker: loop.flicker,
          faceRuns: loop.faceRuns,
          faceReuses: loop.faceReuses,
        },
      };
    });
  }

  /**
   * The frame loop: detect faces on every frame, keep FACE_WINDOW frames of lookahead so each
   * frame's faces are smoothed over past and future detections, stylize, blend over time, emit.
   */
  private async stylizeFrames(
    source: FrameSource,
    options: {
      style: string;
      mode: Exclude<Mode, 'face'>;
      quality: Quality;
      faces?: FaceLook;
      temporal?: number;
      signal?: AbortSignal;
    },
    emit: (frame: Buffer, index: number) => Promise<void>,
    progress: (done: number) => void,
  ): Promise<FrameLoopResult> {
    const { animefier } = this;
    const { runtime } = animefier;
    const style = animefier.style(options.style);
    const { signal, mode } = options;
    const { width, height } = source;
    const needsFaces = style.faceModel !== null && mode !== 'background';
    const needsMask = mode === 'person' || mode === 'background';
    const tracker = new FaceTracker(Math.max(2, Math.round(source.fps * 0.2)));
    const crops = new FaceCropCache((face) => tracker.trackOf.get(face), { maxStreak: this.settings.faceReuse });
    const renderers = new FaceTrackRenderers((face) => tracker.trackOf.get(face));
    const masks = new MaskSmoother(0.5);
    const blender = new TemporalBlender({ strength: options.temporal ?? this.settings.temporal });
    const flicker = new FlickerMeter();
    const timings = { faces: 0, stylize: 0 };
    let maxFaces = 0;
    let done = 0;
    let read = 0;
    let ended = false;
    const pending: { index: number; bytes: Buffer }[] = [];

    const finish = async (item: { index: number; bytes: Buffer }) => {
      throwIfCancelled(signal);
      const photo = imageFromBytes(item.bytes, width, height);
      const faces: Face[] = needsFaces ? tracker.smoothed(item.index, ended ? read : Infinity) : [];
      maxFaces = Math.max(maxFaces, faces.length);
      renderers.observe(faces);
      const t = performance.now();
      const mask = needsMask ? masks.apply(await segmentPerson(runtime, photo, 'fast')) : undefined;
      const styled = await animefier.stylizeFrame(photo, {
        style,
        mode,
        quality: options.quality,
        faces,
        faceCropSize: this.settings.faceCropSize,
        mask,
        stylizeCrop: crops.stylize,
        look: options.faces,
        memory: renderers,
        sceneMinSide: SCENE_MIN_SIDE,
        signal,
      });
      const out = imageToBytes(blender.apply(photo, styled));
      timings.stylize += performance.now() - t;
      flicker.add(item.bytes, out);
      await emit(out, item.index);
      progress(++done);
    };

    for await (const bytes of source.frames()) {
      throwIfCancelled(signal);
      const index = read++;
      if (needsFaces) {
        const t = performance.now();
        tracker.add(index, await detectFaces(runtime, imageFromBytes(bytes, width, height), { threshold: this.settings.faceThreshold }));
        timings.faces += performance.now() - t;
      }
      pending.push({ index, bytes });
      if (pending.length > FACE_WINDOW) await finish(pending.shift()!);
    }
    ended = true;
    while (pending.length > 0) await finish(pending.shift()!);
    return {
      count: done,
      maxFaces,
      tracks: renderers.tracks(),
      faceRuns: crops.runs,
      faceReuses: crops.reused,
      flicker: flicker.index === undefined ? undefined : Math.round(flicker.index * 1000) / 1000,
      timings: { faces: Math.round(timings.faces), stylize: Math.round(timings.stylize) },
    };
  }

  /** Probes a GIF or video, enforces the limits, and starts its decoder. */
  private async openWithFfmpeg(
    file: string,
    gif: AnimationTiming | undefined,
    format: MediaFormat,
    notes: string[],
    signal: AbortSignal | undefined,
  ): Promise<FrameSource> {
    const { settings } = this;
    const info = await probeMedia(settings.paths, file, { signal });
    this.checkLimits(info, gif);
    if (!gif) await this.checkComplete(file, info, signal);
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
    let decoder: FfmpegProcess | undefined;
    const start = (): FfmpegProcess => {
      decoder ??= spawnFfmpeg(settings.paths.ffmpeg, decodeArgs(file, { width, height, rate, alpha, decoder: vpxDecoder }), {
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
      fps: gif ? 1000 / (sum(displayDelays(gif.delays)) / gif.frames) : fps,
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

  /** Animated WebP (ffmpeg 5 cannot decode it): sharp decodes the frames, bounded by the frame limit. */
  private async openWebp(input: Uint8Array, timing: AnimationTiming, format: MediaFormat): Promise<FrameSource> {
    if (timing.width * timing.height > this.settings.maxPixels) {
      throw new AnimefyError('VIDEO_TOO_LARGE', { width: timing.width, height: timing.height, limit: megapixels(this.settings.maxPixels) });
    }
    const { width, height } = workingSize(timing.width, timing.height, this.settings.workingSize, format !== 'gif');
    const delays = displayDelays(timing.delays);
    let stopped = false;
    return {
      width,
      height,
      expected: timing.frames,
      rate: rateForDelays(timing.delays).rate,
      fps: 1000 / (sum(delays) / timing.frames),
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

  private checkLimits(info: MediaInfo, gif: AnimationTiming | undefined): void {
    const { settings } = this;
    if (info.width * info.height > settings.maxPixels) {
      throw new AnimefyError('VIDEO_TOO_LARGE', { width: info.width, height: info.height, limit: megapixels(settings.maxPixels) });
    }
    if (!gif && info.duration > settings.maxSeconds + 0.5) {
      throw new AnimefyError('VIDEO_TOO_LONG', { seconds: Math.round(info.duration), limit: settings.maxSeconds });
    }
    if (!gif && info.duration * Math.min(info.fps, settings.maxFps) < 0.5) throw new AnimefyError('CORRUPT_VIDEO');
  }

  /**
   * A file cut off after its header still probes fine: count the packets actually there (a demux,
   * no decoding) and refuse before stylizing anything when frames are missing.
   */
  private async checkComplete(file: string, info: MediaInfo, signal: AbortSignal | undefined): Promise<void> {
    const { stdout } = await runFfmpeg(
      this.settings.paths.ffprobe,
      ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', file],
      { signal, timeoutMs: 60_000 },
    );
    const packets = Number.parseInt(stdout.toString().trim(), 10);
    if (!Number.isFinite(packets) || packets === 0) throw new AnimefyError('CORRUPT_VIDEO');
    if (packets < info.frames * 0.9 - 1) throw new AnimefyError('CORRUPT_VIDEO');
  }

  /** After decoding: a stream that ended well short of what its header promised was cut off. */
  private checkFrameCount(count: number, source: FrameSource): void {
    if (count === 0) throw new AnimefyError('CORRUPT_VIDEO');
    if (!source.delays && count < source.expected * 0.9 - 2) throw new AnimefyError('CORRUPT_VIDEO');
  }

  /** MP4/WebM timing: a constant rate, with GIF frames repeated to honour uneven delays. */
  private encoderTiming(source: FrameSource): { rate: string; repeats?: number[] } {
    return source.delays ? rateForDelays(source.delays) : { rate: source.rate };
  }
}

interface FrameLoopResult {
  count: number;
  maxFaces: number;
  /** One face per track (mean box) and the renderer that drew it. */
  tracks: { face: Face; renderer: FaceRenderer }[];
  faceRuns: number;
  faceReuses: number;
  flicker?: number;
  timings: Record<string, number>;
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

/** Delays as browsers show them: a GIF delay under 20 ms plays as 100 ms. */
export function displayDelays(delays: readonly number[]): number[] {
  return delays.map((d) => (d < 20 ? 100 : d));
}

/**
 * A constant frame rate for uneven delays: the largest step (a multiple of 10 ms, at least 20 ms)
 * that divides them all, and how many times each frame is repeated at that rate.
 */
export function rateForDelays(delays: readonly number[]): { rate: string; repeats: number[] } {
  const shown = displayDelays(delays).map((d) => Math.max(10, Math.round(d / 10) * 10));
  let step = shown.reduce((g, d) => gcd(g, d), 0);
  if (step < 20) step = 20;
  return { rate: `1000/${step}`, repeats: shown.map((d) => Math.max(1, Math.round(d / step))) };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function sum(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0);
}

function megapixels(pixels: number): string {
  return String(Math.round(pixels / 1e5) / 10);
}

/**
 * The error to report when the frame loop failed: a typed one as it is; else a typed one from the
 * decoder or encoder (ffmpeg missing), else an ffmpeg process that died by itself (its stderr says
 * why, for the logs) rather than the broken pipe it left behind.
 */
function clearestError(err: unknown, processes: PromiseSettledResult<void>[]): unknown {
  if (isAnimefyError(err)) return err;
  const reasons = processes.flatMap((p) => (p.status === 'rejected' ? [p.reason as unknown] : []));
  const typed = reasons.find((r) => isAnimefyError(r) && r.code !== 'CANCELLED');
  if (typed) return typed;
  return reasons.find((r) => r instanceof FfmpegError && r.signal !== 'SIGKILL') ?? err;
}

function isFfmpegFailure(err: unknown): boolean {
  return err instanceof FfmpegError;
}
