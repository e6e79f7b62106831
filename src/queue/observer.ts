/**
 * What queues and worker pools report as jobs move (the metrics module implements it). Both backends
 * call it from the process that submits; `npm run worker` processes call it for the jobs they run.
 */
import type { ErrorCode } from '../errors.ts';
import type { MediaKind } from './types.ts';

export type JobOutcome = 'done' | 'failed' | 'cancelled';
export type WorkerRestartReason = 'crash' | 'timeout' | 'oom' | 'cancel';

export interface QueueObserver {
  /** A job was accepted. */
  submitted(kind: MediaKind): void;
  /** A submit was refused (QUEUE_FULL, USER_BUSY, QUEUE_UNAVAILABLE, …). */
  rejected(code: ErrorCode): void;
  /** A worker started the job after it waited `waitSeconds`. */
  started(kind: MediaKind, waitSeconds: number): void;
  /** The job ended; `runSeconds` from start to end (0 when it never started). */
  finished(kind: MediaKind, outcome: JobOutcome, code: ErrorCode | undefined, runSeconds: number): void;
  /** A worker process was replaced. */
  workerRestarted(reason: WorkerRestartReason): void;
}

export const NO_OBSERVER: QueueObserver = {
  submitted() {},
  rejected() {},
  started() {},
  finished() {},
  workerRestarted() {},
};
