/**
 * Runs one task on the pipeline, inside a worker process: picks the path for the media kind and turns
 * the pipeline's result into a JobResult.
 */
import sharp from 'sharp';
import { AnimefyError } from '../errors.ts';
import type { Animefier, ProgressEvent } from '../pipeline/animefy.ts';
import type { OutputFormat } from '../pipeline/encode.ts';
import type { JobResult, WorkerTask } from './types.ts';

export interface TaskContext {
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}

export async function runTask(animefier: Animefier, task: WorkerTask, context: TaskContext = {}): Promise<JobResult> {
  switch (task.kind) {
    case 'image':
      return runImage(animefier, task, context);
    case 'gif':
      throw new AnimefyError('UNSUPPORTED_MEDIA', { kind: 'GIF' });
    case 'video':
      throw new AnimefyError('UNSUPPORTED_MEDIA', { kind: 'video' });
  }
}

async function runImage(animefier: Animefier, task: WorkerTask, context: TaskContext): Promise<JobResult> {
  const { options } = task;
  const format = options.format ?? (await defaultFormat(task.input));
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
