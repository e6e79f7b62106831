/** Messages between WorkerPool and its worker processes (IPC with structured clone). */
import type { SerializedError } from '../errors.ts';
import type { ProgressEvent } from '../pipeline/progress.ts';
import type { JobResult, WorkerTask } from './types.ts';

export type ParentMessage =
  | { type: 'run'; task: WorkerTask }
  | { type: 'cancel'; id: string }
  | { type: 'shutdown' };

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'progress'; id: string; event: ProgressEvent }
  | { type: 'done'; id: string; result: JobResult }
  | { type: 'failed'; id: string; error: SerializedError };
