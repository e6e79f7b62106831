/**
 * GIF and video through the picture pipeline, frame by frame:
 *
 *   sniff + limits → probe (ffprobe) → decode (ffmpeg, raw RGB over a pipe, streamed)
 *     → per frame: faces (tracked, smoothed) → optional transform (FrameTransform) → person mask
 *       (smoothed; in person mode only the chosen people's, followed from frame to frame by
 *       person-track.ts) → ImagePipeline.stylizeFrame → temporal blend
 *     → encode (ffmpeg: H.264/VP9 + the original audio, or GIF with one palette)
 *
 * The shell (decode → frame loop → encode, `runClip`) is shared: `animefy` plugs in the stylize loop
 * above, `landmarks` a loop that draws each face's box and 68 points and runs no style model.
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
import { ModelRuntime } from '../../models/runtime.ts';
import { detectFaces, type Face } from '../faces.ts';
import type { ImagePipeline } from '../image-pipeline.ts';
import { imageFromBytes, imageToBytes, type Image, type Mask } from '../image.ts';
import { drawLandmarkFaces, type DrawnFace } from '../landmarks-draw.ts';
import { LookMemory } from '../looks.ts';
import { drawnFace, facePoints, findFaces, landmarkJson } from '../landmarks.ts';
import { clipMode, type FaceLook, type Mode, type Quality, type UpscaleFactor } from '../modes.ts';
import { detectPeople, personBoxes, type PersonBox } from '../people.ts';
import { DEFAULT_PERSON_CHOICE, type PersonChoice } from '../person-choice.ts';
import { segmentPerson } from '../person-mask.ts';
import { SmileClip } from '../smile.ts';
import { facesOwners } from '../person-split.ts';
import type { ProgressEvent } from '../progress.ts';
import { faceBoxes, type FaceBox, type FaceRenderer } from '../stylize-faces.ts';
import type { AnimefyResult, LandmarkFace } from '../types.ts';
import { isGif, readGifTiming, readWebpTiming, writeGifTiming } from './animation-timing.ts';
import { FfmpegError, spawnFfmpeg } from './ffmpeg.ts';
import { resolveFfmpegPaths } from './ffmpeg-binaries.ts';
import { encodeArgs, FrameWriter, MEDIA_MIME, type MediaFormat } from './frames.ts';
import { detectMediaKind } from './sniff.ts';
import { checkFrameCount, openWebp, openWithFfmpeg, type FrameSource, type SourceSettings } from './source.ts';
import { faceSize, LandmarkTracker, LOOKAHEAD, TrackSmoother } from './landmark-tracks.ts';
import { PersonTrack } from './person-track.ts';
import { probeMedia } from './probe.ts';
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
  /** Runs on every frame before it is stylized, e.g. a smile warp (see FrameTransform). */
  transform?: FrameTransform;
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
  private smallModels?: ModelRuntime;

  constructor(
    readonly image: ImagePipeline,
    readonly settings: MediaSettings,
  ) {}

  static fromConfig(config: Config, image: ImagePipeline): MediaPipeline {
    return new MediaPipeline(image, mediaSettingsFromConfig(config));
  }

  async animefy(input: Uint8Array, request: MediaRequest): Promise<MediaResult> {
    const mode = clipMode(request.mode);
    const style = this.image.style(request.style);
    const notes: string[] = [];
    if (request.upscale && request.upscale > 1) notes.push('Upscaling is for photos; GIFs and videos keep their working size.');
    const clip = await this.runClip(input, { format: request.format, notes, signal: request.signal, onProgress: request.onProgress }, (frames) =>
      this.stylizeFrames(
        frames.source,
        {
          style: request.style,
          mode,
          quality: request.quality,
          faces: request.faces,
          person: request.person,
          temporal: request.temporal,
          transform: request.transform,
          signal: request.signal,
        },
        frames.emit,
        frames.progress,
      ),
    );
    const { loop } = clip;
    return {
      data: clip.data,
      format: clip.format,
      mime: MEDIA_MIME[clip.format],
      width: clip.width,
      height: clip.height,
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
      timings: clip.timings,
      notes: clip.notes,
      media: { ...clip.media, flicker: loop.flicker, faceRuns: loop.faceRuns, faceReuses: loop.faceReuses },
    };
  }

  /**
   * The `landmarks` operation on a GIF or video: every face's box and 68 points (anime faces: box and
   * five keypoints) drawn on every frame, faces tracked with stable ids and their points smoothed over
   * time; `landmarks` lists every face on every frame in input pixels. No style model runs. Throws
   * NO_FACE_FOUND when no frame has a face.
   */
  async landmarks(input: Uint8Array, request: LandmarksRequest = {}): Promise<MediaResult> {
    const notes: string[] = [];
    const clip = await this.runClip(input, { format: request.format, notes, signal: request.signal, onProgress: request.onProgress }, (frames) =>
      this.landmarkFrames(frames, { smooth: request.smooth ?? true, signal: request.signal }),
    );
    const { loop } = clip;
    if (loop.landmarks.length === 0) throw new AnimefyError('NO_FACE_FOUND');
    return {
      ...realClipResult(clip, request, 'landmarks', loop.maxFaces),
      faceBoxes: trackBoxes(loop.landmarks, loop.scores),
      landmarks: loop.landmarks,
    };
  }

  /**
   * The `smile` operation on a GIF or video: the clip stays real, its faces smile on every frame
   * (smile.ts: points smoothed per face over time, so the smile holds still). Faces turned too far
   * are left as they are, with a note. Throws NO_FACE_FOUND when no frame has a face.
   */
  async smile(input: Uint8Array, request: SmileClipRequest): Promise<MediaResult> {
    const notes: string[] = [];
    const runtime = this.landmarkRuntime();
    const smiler = new SmileClip(runtime, { amount: request.amount, notes });
    const timings = { faces: 0, smile: 0 };
    let maxFaces = 0;
    const clip = await this.runClip(input, { format: request.format, notes, signal: request.signal, onProgress: request.onProgress }, async ({ source, emit, progress }) => {
      let count = 0;
      for await (const bytes of source.frames()) {
        throwIfCancelled(request.signal);
        const photo = imageFromBytes(bytes, source.width, source.height);
        let t = performance.now();
        const faces = await detectFaces(runtime, photo, { threshold: this.image.settings.faceThreshold });
        timings.faces += performance.now() - t;
        maxFaces = Math.max(maxFaces, faces.length);
        t = performance.now();
        const out = faces.length > 0 ? imageToBytes(await smiler.frame(photo, faces, count)) : Buffer.from(bytes);
        timings.smile += performance.now() - t;
        await emit(out, count);
        progress(++count);
      }
      return { count, timings: { faces: Math.round(timings.faces), smile: Math.round(timings.smile) } };
    });
    if (maxFaces === 0) throw new AnimefyError('NO_FACE_FOUND');
    return { ...realClipResult(clip, request, 'smile', maxFaces), faceBoxes: [] };
  }

  /**
   * The shell every clip operation shares: sniff and limits, probe and decode (streamed), a frame loop
   * that emits each finished frame, encode (GIF delays and loop count written after; MP4/WebM with the
   * original audio), and one temporary directory removed whatever happens. `frameLoop` gets the source
   * and emits frames in order; it reports its own timings.
   */
  private async runClip<R extends FrameLoopBase>(
    input: Uint8Array,
    options: { format?: MediaFormat; notes: string[]; signal?: AbortSignal; onProgress?: (event: ProgressEvent) => void },
    frameLoop: (frames: ClipFrames) => Promise<R>,
  ): Promise<ClipOutput<R>> {
    const started = performance.now();
    const { signal, notes } = options;
    const sniffed = detectMediaKind(input);
    if (sniffed === 'image') throw new AnimefyError('NOT_A_VIDEO');
    const webp = readWebpTiming(input);
    const gif = !webp && isGif(input) ? readGifTiming(input) : undefined;
    const timing = webp ?? gif;
    if (timing && timing.frames > this.settings.maxGifFrames) {
      throw new AnimefyError('TOO_MANY_FRAMES', { frames: timing.frames, limit: this.settings.maxGifFrames });
    }
    const format = options.format ?? (timing ? 'gif' : 'mp4');
    const report = (event: ProgressEvent) => options.onProgress?.(event);
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
      let loop: R;
      try {
        loop = await frameLoop({
          source,
          inputFile,
          inputSize: timing && { width: timing.width, height: timing.height },
          emit: async (frame, index) => {
            const times = repeats?.[index] ?? 1;
            for (let r = 0; r < times; r++) await writer.write(frame);
          },
          progress: (done) => {
            const total = Math.max(source.expected, done);
            report({
              stage: 'frames',
              percent: Math.round((PROBE_PERCENT + (FRAMES_PERCENT - PROBE_PERCENT) * (done / total)) * 10) / 10,
              frame: done,
              frames: total,
            });
          },
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
        width: source.width,
        height: source.height,
        loop,
        timings,
        notes,
        media: {
          frames: loop.count,
          fps: Math.round(source.fps * 1000) / 1000,
          duration: Math.round(duration * 1000) / 1000,
          hasAudio: format !== 'gif' && !!source.audio,
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
   * The stylize frame loop: detect faces on every frame, keep FACE_WINDOW frames of lookahead so each
   * frame's faces are smoothed over past and future detections, (transform,) stylize, blend over time, emit.
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
      /** Runs on each frame before it is stylized (see FrameTransform). */
      transform?: FrameTransform;
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
    // A filter style keeps the colours it picks on the first frame for the whole clip (no flicker).
    const looks = new LookMemory();
    const flicker = new FlickerMeter();
    const timings = { faces: 0, stylize: 0, transform: 0 };
    let maxFaces = 0;
    let done = 0;
    let read = 0;
    let ended = false;
    const pending: { index: number; bytes: Buffer }[] = [];

    const finish = async (item: { index: number; bytes: Buffer }) => {
      throwIfCancelled(signal);
      const smoothed: Face[] = needsFaces || options.transform ? tracker.smoothed(item.index, ended ? read : Infinity) : [];
      const faces = needsFaces ? smoothed : [];
      let photo = imageFromBytes(item.bytes, width, height);
      if (options.transform) {
        const t = performance.now();
        photo = await options.transform(photo, smoothed, item.index);
        timings.transform += performance.now() - t;
      }
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
        looks,
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
      if (needsFaces || options.transform) {
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
      timings: {
        faces: Math.round(timings.faces),
        stylize: Math.round(timings.stylize),
        ...(options.transform ? { transform: Math.round(timings.transform) } : {}),
      },
    };
  }

  /**
   * The landmark models (YuNet and FaceBoxes at clip size, PFLD at 112²) on one intra-op thread, apart
   * from the shared runtime: they are too small to gain from a second thread, and when the cores are
   * busy two threads wait on each other. Measured on the 2-core machine with other jobs running
   * (320x180 frames of face_clip.gif, median): 30 ms a frame with one thread, 100 ms with two.
   */
  private landmarkRuntime(): ModelRuntime {
    const shared = this.image.runtime;
    this.smallModels ??= new ModelRuntime({ modelsDir: shared.modelsDir, manifest: shared.manifest, threads: 1 });
    return this.smallModels;
  }

  /**
   * The landmarks frame loop: faces found on every frame (YuNet and the anime detector), tracked with
   * LOOKAHEAD frames of lookahead (gaps filled, one-frame false alarms dropped); per track the box is
   * smoothed, PFLD runs on it, the points are smoothed (One Euro, landmark-tracks.ts), drawn, emitted.
   */
  private async landmarkFrames(frames: ClipFrames, options: { smooth: boolean; signal?: AbortSignal }): Promise<LandmarkLoopResult> {
    const { source, emit, progress } = frames;
    const { signal } = options;
    const runtime = this.landmarkRuntime();
    const { width, height } = source;
    const input = frames.inputSize ?? (await probeMedia(this.settings.paths, frames.inputFile, { signal }));
    const k = input.width / width;
    // Each frame's time (s): GIF and WebP frames as they play, video at its constant rate.
    const delays = source.delays && displayDelays(source.delays);
    const starts: number[] = [];
    const timeOf = (index: number): number => {
      if (!delays) return index / source.fps;
      while (starts.length <= index) {
        const n = starts.length;
        starts.push(n === 0 ? 0 : starts[n - 1] + (delays[n - 1] ?? 1000 / source.fps) / 1000);
      }
      return starts[index];
    };
    const tracker = new LandmarkTracker(LOOKAHEAD);
    const smoother = new TrackSmoother(options.smooth);
    const landmarks: LandmarkFace[] = [];
    const scores = new Map<number, number>();
    const timings = { faces: 0, landmarks: 0, draw: 0 };
    let maxFaces = 0;
    let done = 0;
    let read = 0;
    let ended = false;
    const pending: { index: number; bytes: Buffer; image: Image }[] = [];

    const finish = async (item: { index: number; bytes: Buffer; image: Image }) => {
      throwIfCancelled(signal);
      const t = timeOf(item.index);
      const faces = tracker.at(item.index, ended ? read : Infinity);
      maxFaces = Math.max(maxFaces, faces.length);
      const drawn: DrawnFace[] = [];
      let t0 = performance.now();
      for (const face of faces) {
        const box = smoother.box(face.id, face.box, t);
        const size = faceSize(box);
        const keys = face.keypoints && smoother.points('yunet', face.id, face.keypoints, t, size);
        const roll = keys ? Math.atan2(keys[1][1] - keys[0][1], keys[1][0] - keys[0][0]) : 0;
        const fp = await facePoints(runtime, item.image, face.found, box, roll);
        const points = fp.points && smoother.points('68', face.id, fp.points, t, size);
        const keypoints = keys ?? smoother.points('keypoints', face.id, fp.keypoints, t, size);
        drawn.push(drawnFace(face.id, face.kind, box, { points, keypoints }));
        landmarks.push(landmarkJson(item.index, face.id, face.kind, box, points, keypoints, k));
        if (face.detected) scores.set(face.id, Math.max(scores.get(face.id) ?? 0, face.found.score));
      }
      timings.landmarks += performance.now() - t0;
      t0 = performance.now();
      const out = Buffer.from(item.bytes);
      drawLandmarkFaces({ width, height, data: out }, drawn);
      timings.draw += performance.now() - t0;
      await emit(out, item.index);
      progress(++done);
    };

    for await (const bytes of source.frames()) {
      throwIfCancelled(signal);
      const index = read++;
      const image = imageFromBytes(bytes, width, height);
      const t = performance.now();
      tracker.add(index, await findFaces(runtime, image, { threshold: this.settings.faceThreshold }));
      timings.faces += performance.now() - t;
      pending.push({ index, bytes, image });
      if (pending.length > LOOKAHEAD) await finish(pending.shift()!);
    }
    ended = true;
    while (pending.length > 0) await finish(pending.shift()!);
    return {
      count: done,
      maxFaces,
      landmarks,
      scores,
      timings: { faces: Math.round(timings.faces), landmarks: Math.round(timings.landmarks), draw: Math.round(timings.draw) },
    };
  }
}

/**
 * A photo transform run on every frame before it is stylized (the animefy frame loop's hook, e.g. a
 * smile warp): the frame at working size, its faces (tracked and smoothed, working pixels, empty when
 * none) and the frame's index; returns the picture to stylize, of the same size. The flicker index
 * is still measured against the untransformed frames.
 */
export type FrameTransform = (photo: Image, faces: Face[], index: number) => Promise<Image>;

/** What the landmarks operation on a clip is asked. */
export interface LandmarksRequest {
  /** Output format; default GIF for a GIF or animated WebP, MP4 for a video. */
  format?: MediaFormat;
  /** Smooth boxes and points over time (default true); false: each frame's own PFLD points. */
  smooth?: boolean;
  /** Only echoed in the result. */
  style?: string;
  mode?: Mode;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}

/** A clip result that ran no style model (landmarks, smile): style and mode only echo the request. */
function realClipResult(
  clip: ClipOutput<FrameLoopBase>,
  request: { style?: string; mode?: Mode },
  operation: 'landmarks' | 'smile',
  faces: number,
): Omit<MediaResult, 'faceBoxes'> {
  return {
    data: clip.data,
    format: clip.format,
    mime: MEDIA_MIME[clip.format],
    width: clip.width,
    height: clip.height,
    style: request.style ?? 'none',
    mode: request.mode ?? 'full',
    operation,
    faces,
    stylizedFaces: 0,
    timings: clip.timings,
    notes: clip.notes,
    media: { ...clip.media, faceRuns: 0, faceReuses: 0 },
  };
}

/** What the smile operation on a clip is asked. */
export interface SmileClipRequest {
  /** 0..1 (default DEFAULT_SMILE_AMOUNT). */
  amount?: number;
  format?: MediaFormat;
  /** Only echoed in the result. */
  style?: string;
  mode?: Mode;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}

/** A clip as a frame loop sees it (`MediaPipeline.runClip`). */
interface ClipFrames {
  source: FrameSource;
  /** The input written to the job's temporary directory. */
  inputFile: string;
  /** The input's own size when known without probing (GIF, WebP); frames are at the working size. */
  inputSize?: { width: number; height: number };
  /** Hands over finished frame `index` (frames in order) to the encoder. */
  emit: (frame: Buffer, index: number) => Promise<void>;
  /** Frames finished so far. */
  progress: (done: number) => void;
}

/** What every frame loop reports. */
interface FrameLoopBase {
  count: number;
  timings: Record<string, number>;
}

interface ClipOutput<R> {
  data: Buffer;
  format: MediaFormat;
  width: number;
  height: number;
  loop: R;
  timings: Record<string, number>;
  notes: string[];
  media: Pick<MediaDetails, 'frames' | 'fps' | 'duration' | 'hasAudio'>;
}

interface LandmarkLoopResult extends FrameLoopBase {
  maxFaces: number;
  landmarks: LandmarkFace[];
  /** Best detection score of each track. */
  scores: Map<number, number>;
}

/** One entry per face track: its mean box over the clip (input pixels) and best score, in the order tracks appeared. */
function trackBoxes(landmarks: readonly LandmarkFace[], scores: ReadonlyMap<number, number>): FaceBox[] {
  const boxes = new Map<number, { x: number; y: number; w: number; h: number; n: number }>();
  for (const { id, box } of landmarks) {
    const b = boxes.get(id) ?? { x: 0, y: 0, w: 0, h: 0, n: 0 };
    b.x += box.x;
    b.y += box.y;
    b.w += box.w;
    b.h += box.h;
    b.n++;
    boxes.set(id, b);
  }
  return [...boxes.entries()].map(([id, b]) => ({
    x: Math.round(b.x / b.n),
    y: Math.round(b.y / b.n),
    w: Math.round(b.w / b.n),
    h: Math.round(b.h / b.n),
    score: Math.round((scores.get(id) ?? 0) * 1000) / 1000,
    renderer: 'scene',
  }));
}

interface FrameLoopResult extends FrameLoopBase {
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
