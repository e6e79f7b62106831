/**
 * What both sides of the Redis backend (queue.ts submits, worker.ts runs) agree on: where things
 * live in Redis, what a job carries there and returns, how errors cross, and the connection URL.
 *
 * What lives where in Redis (queue name `q`):
 *   bull:q:*                BullMQ's own keys (job hashes, wait list, prioritized zset, events stream)
 *   q:blob:<id>:in|out      the media bytes, with a TTL (blobs.ts explains why they are not job data)
 *   q:user:<platform:id>    zset of a requester's outstanding job ids (per-user cap, fairness)
 *   q:cancelled:<id>        a cancel marker a worker checks before and while it runs the job
 *   q:cancel                pub/sub channel: "stop this running job now"
 */
import { UnrecoverableError } from 'bullmq';
import type { Config } from '../../config.ts';
import { AnimefyError, PERMANENT_ERRORS } from '../../errors.ts';
import { isStage, type ProgressEvent } from '../../pipeline/progress.ts';
import { requesterKey, type JobOptions, type JobResult, type MediaKind, type Requester } from '../types.ts';

/** The one BullMQ job name this project uses. */
export const JOB_NAME = 'animefy';

/** What a BullMQ job carries: a reference to the input blob, never the bytes. */
export interface RedisJobData {
  kind: MediaKind;
  options: JobOptions;
  requester: Requester;
  blobKey: string;
  /** ms since the epoch; workers report the wait from it. */
  submittedAt: number;
}

/** A worker's return value (the job's `returnvalue`): the result without its bytes, which are in a blob. */
export type RedisJobMeta = Omit<JobResult, 'data'> & { blobKey: string };

export function cancelChannel(queueName: string): string {
  return `${queueName}:cancel`;
}

export function cancelMarkerKey(queueName: string, jobId: string): string {
  return `${queueName}:cancelled:${jobId}`;
}

export function userJobsKey(queueName: string, requester: Requester): string {
  return `${queueName}:user:${requesterKey(requester)}`;
}

// ---- payloads ----

/**
 * How an AnimefyError crosses BullMQ: its JSON is the error message, so the submitter rebuilds the
 * typed error from `failedReason`. Permanent errors (bad input, cancelled, timeouts) become
 * UnrecoverableError, which BullMQ never retries; the rest (a crashed worker, INTERNAL) are retried
 * up to ANIMEFY_REDIS_ATTEMPTS times.
 */
export function toBullError(error: AnimefyError): Error {
  const message = JSON.stringify(error.toJSON());
  return PERMANENT_ERRORS.has(error.code) ? new UnrecoverableError(message) : new Error(message);
}

/** The typed error behind a failed job's `failedReason` (see `toBullError`). */
export function errorFromFailedReason(reason: string | undefined): AnimefyError {
  if (reason) {
    try {
      const parsed: unknown = JSON.parse(reason);
      if (parsed && typeof parsed === 'object') return AnimefyError.fromJSON(parsed);
    } catch {
      // not ours: BullMQ's own reasons below
    }
    // BullMQ fails a job whose worker kept dying under it ("job stalled more than allowable limit").
    if (/stalled more than allowable limit|started more than allowable limit/.test(reason)) return new AnimefyError('WORKER_CRASHED');
  }
  return new AnimefyError('INTERNAL', {}, { cause: reason });
}

/** A job's `progress` data (what the worker sent) as a ProgressEvent; undefined when it is not one. */
export function toProgressEvent(data: unknown): ProgressEvent | undefined {
  if (!data || typeof data !== 'object') return undefined;
  const { stage, percent, frame, frames } = data as Record<string, unknown>;
  if (!isStage(stage) || typeof percent !== 'number') return undefined;
  const event: ProgressEvent = { stage, percent };
  if (typeof frame === 'number' && typeof frames === 'number') Object.assign(event, { frame, frames });
  return event;
}

/** A completed job's `returnvalue` as a RedisJobMeta; INTERNAL when it is malformed. */
export function parseMeta(value: unknown): RedisJobMeta {
  const meta = (typeof value === 'string' ? JSON.parse(value) : value) as Partial<RedisJobMeta> | null;
  if (!meta || typeof meta !== 'object' || typeof meta.blobKey !== 'string' || typeof meta.mime !== 'string') {
    throw new AnimefyError('INTERNAL', {}, { cause: 'malformed job return value' });
  }
  return meta as RedisJobMeta;
}

// ---- connection ----

/** `redis://host:port/db` without user name or password, for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return '(unparseable redis url)';
  }
}

export function requireRedisUrl(config: Config): string {
  if (!config.ANIMEFY_REDIS_URL) throw new Error('ANIMEFY_REDIS_URL is not set: the redis queue backend needs it');
  return config.ANIMEFY_REDIS_URL;
}
