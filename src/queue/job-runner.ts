/**
 * Runs one task inside a worker process, through the pipeline's single entry (animefy-any.ts): it
 * picks the path for what the media really is (the bytes are sniffed; the task's declared kind only
 * decides when they say nothing) and makes the result fit the upload limit (`options.maxBytes`) when
 * the job has one. What comes back is the JobResult.
 */
import { animefyAny, type Pipelines } from '../pipeline/animefy-any.ts';
import type { ProgressEvent } from '../pipeline/progress.ts';
import type { JobResult, WorkerTask } from './types.ts';

export interface TaskContext {
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}

export async function runTask(pipelines: Pipelines, task: WorkerTask, context: TaskContext = {}): Promise<JobResult> {
  const { options } = task;
  return animefyAny(pipelines, task.input, {
    kind: task.kind,
    style: options.style,
    mode: options.mode,
    upscale: options.upscale,
    quality: options.quality,
    faces: options.faces,
    operation: options.operation,
    person: options.person,
    body: options.body,
    effect: options.effect,
    text: options.text,
    size: options.size,
    smile: options.smile,
    format: options.format,
    maxBytes: options.maxBytes,
    signal: context.signal,
    onProgress: context.onProgress,
  });
}
