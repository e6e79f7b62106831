/**
 * Runs one task inside a worker process: picks the path for what the media really is (the bytes are
 * sniffed; the declared kind only decides when they say nothing) and turns the pipeline's result into
 * a JobResult, made to fit the upload limit (`options.maxBytes`) when the job has one.
 */
import sharp from 'sharp';
import type { Animefier, ProgressEvent } from '../pipeline/animefy.ts';
import { fitToBytes } from '../pipeline/fit-size.ts';
import { isOutputFormat, type OutputFormat } from '../pipeline/encode.ts';
import type { MediaPipeline } from '../pipeline/media/animate.ts';
import { isMediaFormat } from '../pipeline/media/frames.ts';
import { detectMediaKind } from '../pipeline/media/sniff.ts';
import type { JobResult, MediaKind, WorkerTask } from './types.ts';

export interface Pipelines {
  animefier: Animefier;
  media: MediaPipeline;
}

export interface TaskContext {
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}

export async function runTask(pipelines: Pipelines, task: WorkerTask, context: TaskContext = {}): Promise<JobResult> {
  const kind = mediaKindOf(task);
  const result = kind === 'image' ? await runImage(pipelines.animefier, task, context) : await runMedia(pipelines.media, task, kind, context);
  const { maxBytes } = task.options;
  return maxBytes === undefined ? result : fitResult(pipelines.media, result, maxBytes, context);
}

async function runMedia(media: MediaPipeline, task: WorkerTask, kind: MediaKind, context: TaskContext): Promise<JobResult> {
  const { options } = task;
  const result = await media.animefy(task.input, {
    style: options.style,
    mode: options.mode,
    quality: options.quality,
    upscale: options.upscale,
    faces: options.faces,
    format: isMediaFormat(options.format) ? options.format : undefined,
    signal: context.signal,
    onProgress: context.onProgress,
  });
  return { ...result, kind };
}

/**
 * Makes the result fit the platform's upload limit (see fit-size.ts): here in the worker, never in
 * the bot. ffmpeg and the temporary directory are the media pipeline's.
 */
async function fitResult(media: MediaPipeline, result: JobResult, maxBytes: number, context: TaskContext): Promise<JobResult> {
  const started = performance.now();
  const fitted = await fitToBytes(
    { data: result.data, format: result.format, width: result.width, height: result.height },
    {
      maxBytes,
      ffmpeg: media.settings.paths,
      tempRoot: media.settings.tempDir,
      signal: context.signal,
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
    format: fitted.format,
    mime: fitted.mime,
    width: fitted.width,
    height: fitted.height,
    notes: fitted.note ? [...result.notes, fitted.note] : result.notes,
    timings,
  };
}

/** What the bytes are; a declared kind only counts when the bytes are not recognised. */
export function mediaKindOf(task: Pick<WorkerTask, 'input' | 'kind'>): MediaKind {
  return detectMediaKind(task.input) ?? task.kind;
}

async function runImage(animefier: Animefier, task: WorkerTask, context: TaskContext): Promise<JobResult> {
  const { options } = task;
  const format = isOutputFormat(options.format) ? options.format : await defaultFormat(task.input);
  const result = await animefier.animefy(task.input, {
    style: options.style,
    mode: options.mode,
    upscale: options.upscale,
    quality: options.quality,
    faces: options.faces,
    format,
    signal: context.signal,
    onProgress: context.onProgress,
  });
  return { ...result, kind: 'image' };
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
