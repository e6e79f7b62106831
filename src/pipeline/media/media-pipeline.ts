/**
 * GIF and video through the picture pipeline, frame by frame:
 *
 *   sniff + limits → probe (ffprobe) → decode (ffmpeg, raw RGB over a pipe, streamed)
 *     → per frame: faces (tracked, smoothed) → person mask (smoothed; in person mode only the chosen
 *       people's, followed from frame to frame by person-track.ts) → ImagePipeline.stylizeFrame
 *       → temporal blend → encode (ffmpeg: H.264/VP9 + the original audio, or GIF with one palette)
 *
 * Opening a clip (probe, limits, decoder) is source.ts; frame-rate and delay maths, timing.ts.
 * Frames are stylized at most ANIMEFY_VIDEO_WORKING_SIZE on the long side, at the source frame rate
 * (capped at ANIMEFY_MAX_VIDEO_FPS); MP4/WebM keep the source duration and its audio, GIF keeps every
 * frame's delay and the loop count. Only a few frames are in memory at a time (the face smoothing
 * window). All temporary files live in one directory that is removed whatever happens, and every
 * ffmpeg process is killed when the job fails or is cancelled.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { Config } from '../../config.ts';
import { AnimefyError, isAnimefyError, throwIfCancelled } from '../../errors.ts';
import { detectFaces, type Face } from '../faces.ts';
import type { ImagePipeline } from '../image-pipeline.ts';
import { imageFromBytes, imageToBytes, type Mask } from '../image.ts';
import { clipMode, type FaceLook, type Mode, type Quality, type UpscaleFactor } from '../modes.ts';
import { detectPeople, personBoxes, type PersonBox } from '../people.ts';
import { DEFAULT_PERSON_CHOICE, type PersonChoice } from '../person-choice.ts';
import { segmentPerson } from '../person-mask.ts';
import { facesOwners } from '../person-split.ts';
import type { ProgressEvent } from '../progress.ts';
import { faceBoxes, type FaceRenderer } from '../stylize-faces.ts';
import type { AnimefyResult } from '../types.ts';
import { isGif, readGifTiming, readWebpTiming, writeGifTiming } from './animation-timing.ts';
import { FfmpegError, spawnFfmpeg } from './ffmpeg.ts';
import { resolveFfmpegPaths } from './ffmpeg-binaries.ts';
import { encodeArgs, FrameWriter, MEDIA_MIME, type MediaFormat } from './frames.ts';
import { detectMediaKind } from './sniff.ts';
import { checkFrameCount, openWebp, openWithFfmpeg, type FrameSource, type SourceSettings } from './source.ts';
import { PersonTrack } from './person-track.ts';
import { withTempDir } from './temp.ts';
import { FACE_WINDOW, FaceCropCache, FaceTrackRenderers, FaceTracker, FlickerMeter, MaskSmoother, TemporalBlender } from './temporal.ts';
import { displayDelays, encoderTiming, sum } from './timing.ts';

/** Limits, sizes and rates of the frame sources (source.ts), and the frame loop's own settings. */
export interface MediaSettings extends SourceSettings {
  maxGifFrames: number;
  faceCropSize: number;
  /** Frames in a row a moving face may reuse its last stylized crop (0: only still faces do). */
  faceReuse: number;
  /** Temporal smoothing strength, 0..1. */
  temporal: number;
  faceThreshold: number;
  tempDir?: string;
}

export function mediaSettingsFromConfig(config: Config): MediaSettings {
  return {
    maxSeconds: config.ANIMEFY_MAX_VIDEO_S,
    maxGifFrames: config.ANIMEFY_MAX_GIF_FRAMES,
    maxDecodeMegapixelFrames: config.ANIMEFY_MAX_DECODE_MEGAPIXEL_FRAMES,
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
  /**
   * Person mode: who is stylized (default `largest`), numbered on the first frame with people in it
   * and followed through the clip; `all`: everyone the mask finds.
   */
  person?: PersonChoice;
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

/**
 * Frames with a shorter side are enlarged for the scene model. Photos use 256 (finer strokes); for
 * frames 160 keeps the look (bolder strokes) at half the cost of a 320x180 GIF frame.
 */
const SCENE_MIN_SIDE = 160;
const PROBE_PERCENT = 2;
const FRAMES_PERCENT = 95;

export class MediaPipeline {
  constructor(
    readonly image: ImagePipeline,
    readonly settings: MediaSettings,
  ) {}

  static fromConfig(config: Config, image: ImagePipeline): MediaPipeline {
    return new MediaPipeline(image, mediaSettingsFromConfig(config));
  }

  async animefy(input: Uint8Array, request: MediaRequest): Promise<MediaResult> {
    const started = performance.now();
    const { signal } = request;
    const mode = clipMode(request.mode);
    const style = this.image.style(request.style);
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
        ? await openWebp(this.settings, input, webp, format)
        : await openWithFfmpeg(this.settings, inputFile, gif, format, notes, signal);
      timings.decode = Math.round(performance.now() - t0);
      report({ stage: 'decode', percent: PROBE_PERCENT });

      const output = path.join(dir, `output.${format}`);
      // MP4/WebM: a constant rate, GIF frames repeated to honour uneven delays; GIF: delays written after.
      const pacing = format === 'gif' ? { rate: source.rate, repeats: undefined } : encoderTiming(source);
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
        loop = await this.stylizeFrames(source, { style: request.style, mode, quality: request.quality, faces: request.faces, person: request.person, temporal: request.temporal, signal }, async (frame, index) => {
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
        checkFrameCount(loop.count, source);
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
        ...(loop.people ? { people: loop.people, chosen: loop.chosen } : {}),
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
   * The first frame of a clip at the working size: the picture its people preview numbers (person
   * mode numbers the people of a clip on its first frame with anyone in it).
   */
  async firstFrame(input: Uint8Array, signal?: AbortSignal): Promise<{ rgb: Buffer; width: number; height: number }> {
    if (detectMediaKind(input) === 'image') throw new AnimefyError('NOT_A_VIDEO');
    const webp = readWebpTiming(input);
    const gif = !webp && isGif(input) ? readGifTiming(input) : undefined;
    const format: MediaFormat = webp || gif ? 'gif' : 'mp4';
    return withTempDir(this.settings.tempDir, async (dir) => {
      const inputFile = path.join(dir, webp ? 'input.webp' : gif ? 'input.gif' : 'input');
      await writeFile(inputFile, input);
      const source = webp
        ? await openWebp(this.settings, input, webp, format)
        : await openWithFfmpeg(this.settings, inputFile, gif, format, [], signal);
      try {
        for await (const bytes of source.frames()) return { rgb: Buffer.from(bytes), width: source.width, height: source.height };
        throw new AnimefyError('CORRUPT_VIDEO');
      } finally {
        source.stop();
        await source.finished().catch(() => undefined); // killed on purpose
      }
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
      person?: PersonChoice;
      temporal?: number;
      signal?: AbortSignal;
    },
    emit: (frame: Buffer, index: number) => Promise<void>,
    progress: (done: number) => void,
  ): Promise<FrameLoopResult> {
    const { image } = this;
    const { runtime } = image;
    const style = image.style(options.style);
    const { signal, mode } = options;
    const { width, height } = source;
    const needsFaces = style.faceModel !== null && mode !== 'background';
    const needsMask = mode === 'person' || mode === 'background';
    const choice = options.person ?? DEFAULT_PERSON_CHOICE;
    // `all` keeps the whole mask (everyone, also people who walk in later); any other choice follows people.
    const track = mode === 'person' && choice !== 'all' ? new PersonTrack(choice) : undefined;
    let firstPeople: { people: PersonBox[]; chosen: number[] } | undefined;
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
      let mask: Mask | undefined;
      let frameFaces = faces;
      if (track) {
        const wasStarted = track.started;
        const tracked = track.frame(await detectPeople(runtime, photo), await segmentPerson(runtime, photo, 'fast'), faces, photo);
        if (!wasStarted && track.started) {
          firstPeople = { people: personBoxes(tracked.people), chosen: tracked.positions.map((i) => tracked.people[i].index) };
        }
        mask = masks.apply(tracked.split.maskOf(tracked.positions));
        // Only the followed people's faces are drawn; the others stay real.
        const owners = facesOwners(faces, tracked.people, tracked.split);
        frameFaces = faces.filter((_, f) => tracked.positions.includes(owners[f]));
      } else if (needsMask) {
        mask = masks.apply(await segmentPerson(runtime, photo, 'fast'));
      }
      const styled = await image.stylizeFrame(photo, {
        style,
        mode,
        quality: options.quality,
        faces: frameFaces,
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
      ...firstPeople,
      tracks: renderers.tracks(),
      faceRuns: crops.runs,
      faceReuses: crops.reused,
      flicker: flicker.index === undefined ? undefined : Math.round(flicker.index * 1000) / 1000,
      timings: { faces: Math.round(timings.faces), stylize: Math.round(timings.stylize) },
    };
  }
}

interface FrameLoopResult {
  count: number;
  maxFaces: number;
  /** Person mode with a choice: the people on the first frame with anyone, and who was followed. */
  people?: PersonBox[];
  chosen?: number[];
  /** One face per track (mean box) and the renderer that drew it. */
  tracks: { face: Face; renderer: FaceRenderer }[];
  faceRuns: number;
  faceReuses: number;
  flicker?: number;
  timings: Record<string, number>;
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
