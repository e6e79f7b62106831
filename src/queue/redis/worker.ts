/**
 * The worker side of the Redis backend (`npm run worker`): a BullMQ Worker that takes jobs from the
 * queue and runs each in the isolated WorkerPool (a pipeline crash kills a child process, never this
 * one, so the job lock keeps being renewed and the failure is reported).
 *
 * Crash safety comes from BullMQ's locks: a worker holds each job's lock for ANIMEFY_REDIS_LOCK_S and
 * renews it while the job runs. If the whole worker process dies, the lock runs out, another worker's
 * stalled check (every ANIMEFY_REDIS_LOCK_S) puts the job back in line, and it runs again; a job that
 * keeps killing its workers fails with WORKER_CRASHED after `maxStalledCount` such returns.
 */
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type Config, mbToBytes, sToMs } from '../../config.ts';
import { AnimefyError, errorText, isAnimefyError } from '../../errors.ts';
import { childLogger } from '../../log.ts';
import type { ProgressEvent, Stage } from '../../pipeline/progress.ts';
import { BlobStore, blobKey } from '../blobs.ts';
import { NO_OBSERVER, type QueueObserver } from '../observer.ts';
import { MEDIA_KINDS, type JobResult, type QueueStats } from '../types.ts';
import { WorkerPool } from '../worker-pool.ts';
import {
  cancelChannel,
  cancelMarkerKey,
  redactRedisUrl,
  requireRedisUrl,
  toBullError,
  type RedisJobData,
  type RedisJobMeta,
} from './protocol.ts';
import { queueStats } from './queue.ts';

/** Progress goes to Redis at most this often per job (every stage change is sent regardless). */
const PROGRESS_INTERVAL_MS = 250;
/** Running jobs' cancel markers are checked this often, in case a pub/sub message was missed. */
const CANCEL_CHECK_MS = 2000;
/** A job whose worker died this many times is failed (WORKER_CRASHED) instead of run again. */
const MAX_STALLED_COUNT = 2;

export interface RedisWorkerOptions {
  /** The process pool to run jobs in; by default one of ANIMEFY_CONCURRENCY processes (closed with us). */
  pool?: WorkerPool;
  observer?: QueueObserver;
}

export interface WorkerHealth {
  ok: boolean;
  details: Record<string, unknown>;
}

export class RedisWorker {
  private readonly log = childLogger({ module: 'redis-worker' });
  private readonly blobs: BlobStore;
  /** Jobs this process is running now. */
  private readonly active = new Set<string>();
  private readonly cancelTimer: NodeJS.Timeout;
  private worker!: Worker<RedisJobData, RedisJobMeta>;
  /** Only for stats() (the metrics gauges); jobs are never added from here. */
  private statsQueue?: Queue;
  private closing?: Promise<boolean>;
  /** Set when shutdown gives up waiting: running jobs are left for the stalled check to hand on. */
  private abandoning = false;

  private constructor(
    private readonly config: Config,
    private readonly pool: WorkerPool,
    private readonly ownsPool: boolean,
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly observer: QueueObserver,
  ) {
    this.blobs = new BlobStore(redis, mbToBytes(config.ANIMEFY_REDIS_MAX_BLOB_MB));
    this.cancelTimer = setInterval(() => void this.checkCancelMarkers(), CANCEL_CHECK_MS);
    this.cancelTimer.unref();
  }

  /** Connects, subscribes to cancels and starts taking jobs. */
  static async start(config: Config, options: RedisWorkerOptions = {}): Promise<RedisWorker> {
    const url = requireRedisUrl(config);
    const name = config.ANIMEFY_REDIS_QUEUE;
    const observer = options.observer ?? NO_OBSERVER;
    const pool = options.pool ?? WorkerPool.fromConfig(config, observer);
    // Boot the pipeline processes (and their default models) while we connect, not on the first job.
    if (!options.pool) void pool.warmUp();
    // Blob reads and writes happen inside jobs: wait for Redis rather than fail them during a blip.
    const redis = new Redis(url, { connectionName: `animefy:${name}:worker`, maxRetriesPerRequest: null });
    const subscriber = new Redis(url, { connectionName: `animefy:${name}:cancel`, maxRetriesPerRequest: null });
    const self = new RedisWorker(config, pool, !options.pool, redis, subscriber, observer);
    redis.on('error', (err) => self.log.warn({ err: err.message }, 'redis connection error'));
    subscriber.on('error', (err) => self.log.warn({ err: err.message }, 'redis (cancel channel) connection error'));

    // Cancels of running jobs arrive on a channel (ioredis re-subscribes after reconnects).
    subscriber.on('message', (channel: string, jobId: string) => {
      if (channel === cancelChannel(name)) self.cancelRunning(jobId, 'cancel requested');
    });
    await subscriber.subscribe(cancelChannel(name));

    const worker = new Worker<RedisJobData, RedisJobMeta>(
      name,
      // Three parameters: BullMQ hands a processor that takes one an AbortSignal (worker.cancelJob).
      (job, token, signal) => self.process(job, token, signal),
      {
        connection: { url, maxRetriesPerRequest: null },
        autorun: false,
        concurrency: config.ANIMEFY_CONCURRENCY,
        lockDuration: sToMs(config.ANIMEFY_REDIS_LOCK_S),
        stalledInterval: sToMs(config.ANIMEFY_REDIS_LOCK_S),
        maxStalledCount: MAX_STALLED_COUNT,
      },
    );
    self.worker = worker;
    worker.on('error', (err) => self.log.warn({ err: errorText(err) }, 'worker error'));
    worker.on('stalled', (jobId) => self.log.warn({ job: jobId }, 'job returned to the queue: its worker stopped renewing the lock'));
    // Another worker owns the job now (our lock ran out): stop spending a process on it.
    worker.on('lockRenewalFailed', (jobIds) => {
      for (const jobId of jobIds) self.cancelRunning(jobId, 'lock lost');
    });
    await worker.waitUntilReady();
    void worker.run().catch((err: unknown) => self.log.error({ err: errorText(err) }, 'worker stopped'));
    self.log.debug({ queue: name, redis: redactRedisUrl(url) }, 'redis worker started');
    return self;
  }

  get queueName(): string {
    return this.config.ANIMEFY_REDIS_QUEUE;
  }

  get concurrency(): number {
    return this.config.ANIMEFY_CONCURRENCY;
  }

  /** Jobs running in this process now. */
  get running(): number {
    return this.active.size;
  }

  /** Queue-wide counts, as RedisQueue.stats() gives them (for the metrics gauges). */
  stats(): Promise<QueueStats> {
    if (!this.statsQueue) {
      this.statsQueue = new Queue(this.queueName, { connection: { url: requireRedisUrl(this.config), enableOfflineQueue: false } });
      this.statsQueue.on('error', () => {}); // a failing stats call reports it
    }
    return queueStats(this.statsQueue);
  }

  /** For /healthz: taking jobs and connected to Redis. */
  health(): WorkerHealth {
    const ok = !this.closing && this.worker.isRunning() && this.redis.status === 'ready';
    return {
      ok,
      details: {
        queue: this.queueName,
        concurrency: this.concurrency,
        running: this.active.size,
        closing: Boolean(this.closing),
        redis: this.redis.status,
        pids: this.pool.pids(),
      },
    };
  }

  /**
   * Stops taking jobs and lets the running ones finish. With `timeoutMs`, gives up waiting after it:
   * the unfinished jobs are left locked, not failed, so once their locks run out another worker runs
   * them again. Resolves true when every running job finished.
   */
  close(options: { timeoutMs?: number } = {}): Promise<boolean> {
    this.closing ??= this.shutdown(options.timeoutMs);
    return this.closing;
  }

  private async shutdown(timeoutMs: number | undefined): Promise<boolean> {
    const closed = this.worker.close().then(() => true);
    let graceful = true;
    if (timeoutMs !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      graceful = await Promise.race([closed, expired]);
      clearTimeout(timer);
    } else {
      await closed;
    }
    clearInterval(this.cancelTimer);
    if (!graceful) {
      this.log.warn({ running: [...this.active] }, 'shutdown: left running jobs to be picked up again by other workers');
      this.abandoning = true;
    }
    if (this.ownsPool) await this.pool.close();
    await Promise.allSettled([this.subscriber.quit(), this.redis.quit(), this.statsQueue?.close()]);
    if (!graceful) this.worker.disconnect().catch(() => {});
    return graceful;
  }

  /** Aborts a job if it runs here (its processor then fails it with CANCELLED, never retried). */
  private cancelRunning(jobId: string, reason: string): void {
    if (this.active.has(jobId) && this.worker.cancelJob(jobId, reason)) this.log.info({ job: jobId, reason }, 'stopping job');
  }

  private async checkCancelMarkers(): Promise<void> {
    if (this.active.size === 0) return;
    const ids = [...this.active];
    try {
      const found = await Promise.all(ids.map((id) => this.redis.exists(cancelMarkerKey(this.queueName, id))));
      ids.forEach((id, i) => found[i] && this.cancelRunning(id, 'cancel marker'));
    } catch (err) {
      this.log.debug({ err: errorText(err) }, 'cancel marker check failed');
    }
  }

  private async process(job: Job<RedisJobData, RedisJobMeta>, _token: string | undefined, signal: AbortSignal | undefined): Promise<RedisJobMeta> {
    const id = job.id!;
    const data = job.data;
    const kind = MEDIA_KINDS.includes(data?.kind) ? data.kind : 'image';
    const startedAt = Date.now();
    this.observer.started(kind, Math.max(0, startedAt - (Number(data?.submittedAt) || startedAt)) / 1000);
    this.active.add(id);
    const log = this.log.child({ job: id, kind, attempt: job.attemptsStarted });
    try {
      if (!isJobData(data)) throw new AnimefyError('BAD_OPTION', { detail: 'malformed job' });
      if (await this.redis.exists(cancelMarkerKey(this.queueName, id))) throw new AnimefyError('CANCELLED');
      const input = await this.blobs.get(data.blobKey);
      log.debug({ bytes: input.byteLength }, 'job started');
      const result = await this.pool.run({ id, input, kind, options: data.options }, { signal, onProgress: progressReporter(job, log) });
      const meta = await this.storeResult(id, result);
      const seconds = (Date.now() - startedAt) / 1000;
      this.observer.finished(kind, 'done', undefined, seconds);
      log.info({ seconds, style: meta.style, mode: meta.mode, bytes: result.data.byteLength }, 'job done');
      return meta;
    } catch (err) {
      let error = toAnimefyError(err);
      // Once the signal fired, an unexpected error on the way out (an I/O error, a closed channel) is the cancel.
      if (signal?.aborted && error.code === 'INTERNAL') error = new AnimefyError('CANCELLED');
      if (this.abandoning) {
        // Shutdown ran out of time and stopped the pool: do not record a failure (that would use up
        // an attempt, or end the job for a CANCELLED); the lock runs out and the job runs elsewhere.
        return new Promise<never>(() => {});
      }
      const seconds = (Date.now() - startedAt) / 1000;
      this.observer.finished(kind, error.code === 'CANCELLED' ? 'cancelled' : 'failed', error.code, seconds);
      if (error.code === 'INTERNAL') log.error({ err: error.cause ?? err }, 'job failed');
      else log.info({ code: error.code, seconds }, 'job ended');
      throw toBullError(error);
    } finally {
      this.active.delete(id);
    }
  }

  /** The result's bytes go to a blob with the same TTL as inputs; the job returns only its meta. */
  private async storeResult(id: string, result: JobResult): Promise<RedisJobMeta> {
    const key = blobKey(this.queueName, id, 'out');
    try {
      await this.blobs.put(key, result.data, this.config.ANIMEFY_REDIS_BLOB_TTL_S);
    } catch (err) {
      if (isAnimefyError(err) && err.code === 'INPUT_TOO_LARGE') {
        throw new AnimefyError('OUTPUT_TOO_LARGE', { pixels: Math.round((result.width * result.height) / 1e5) / 10 });
      }
      throw err;
    }
    const { data: _bytes, ...meta } = result;
    return { ...meta, blobKey: key };
  }
}

/** Sends progress to Redis (and so to the submitter) at most every PROGRESS_INTERVAL_MS, and on each new stage. */
function progressReporter(job: Job, log: Logger): (event: ProgressEvent) => void {
  let stage: Stage | undefined;
  let sentAt = 0;
  return (event) => {
    const now = Date.now();
    if (event.stage === stage && now - sentAt < PROGRESS_INTERVAL_MS) return;
    stage = event.stage;
    sentAt = now;
    job.updateProgress({ ...event }).catch((err: unknown) => {
      log.debug({ err: errorText(err) }, 'progress update failed');
    });
  };
}

function isJobData(data: unknown): data is RedisJobData {
  if (!data || typeof data !== 'object') return false;
  const d = data as Partial<RedisJobData>;
  return typeof d.blobKey === 'string' && MEDIA_KINDS.includes(d.kind as never) && !!d.options && typeof d.options === 'object';
}

/** Anything that is not already an AnimefyError (a Redis error, a bug) is INTERNAL, which is retried. */
function toAnimefyError(err: unknown): AnimefyError {
  return isAnimefyError(err) ? err : new AnimefyError('INTERNAL', {}, { cause: err });
}
