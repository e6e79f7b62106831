/**
 * Runs one task inside a worker process: picks the path for what the media really is (the bytes are
 * sniffed; the declared kind only decides when they say nothing) and turns the pipeline's result into
 * a JobResult.
 */
import sharp from 'sharp';
import type { Animefier, ProgressEvent } from '../pipeline/animefy.ts';
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
  if (kind === 'image') return runImage(pipelines.animefier, task, context);
  const { options } = task;
  const result = await pipelines.media.animefy(task.input, {
    style: options.style,
    mode: options.mode,
    quality: options.quality,
    upscale: options.upscale,
    format: isMediaFormat(options.format) ? options.format : undefined,
    signal: context.signal,
    onProgress: context.onProgress,
  });
  return { ...result, kind };
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
