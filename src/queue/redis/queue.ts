/**
 * The scale-out queue backend: bots submit into a BullMQ queue in Redis and `npm run worker`
 * processes (any number, on any machine that reaches Redis) run the jobs. See `worker.ts` for the
 * other side, `protocol.ts` for what lives where in Redis.
 *
 * Every bot process holds one RedisQueue; the handles it gives out are driven by one QueueEvents
 * stream reader, with a slow poll as a safety net so that a missed event never leaves a handle hanging.
 */
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { type Config, mbToBytes, sToMs } from '../../config.ts';
import { AnimefyError, errorText, isAnimefyError, withTimeout, type ErrorCode } from '../../errors.ts';
import { childLogger } from '../../log.ts';
import { BlobStore, blobKey } from '../blobs.ts';
import { QueueJobHandle } from '../handle.ts';
import { NO_OBSERVER, type JobOutcome, type QueueObserver } from '../observer.ts';
import {
  requesterKey,
  type JobHandle,
  type JobQueue,
  type JobRequest,
  type JobResult,
  type MediaKind,
  type QueueStats,
} from '../types.ts';
import { validateRequest } from '../validate.ts';
import { admit, defineAdmit, fairPriority, type AdmitClient } from './admit.ts';
import { QueuePositions } from './positions.ts';
import {
  cancelChannel,
  cancelMarkerKey,
  errorFromFailedReason,
  JOB_NAME,
  parseMeta,
  redactRedisUrl,
  requireRedisUrl,
  toProgressEvent,
  userJobsKey,
  type RedisJobData,
} from './protocol.ts';

/** Submitting is a handful of Redis round trips; past this Redis counts as unavailable. */
const SUBMIT_TIMEOUT_MS = 5000;
const CONNECT_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 5000;
/** The safety net: open handles' jobs are looked at this often, whatever the events said. */
const POLL_MS = 3000;

/** One job this process submitted and still owes its handle an ending. */
interface Tracked {
  id: string;
  handle: QueueJobHandle;
  kind: MediaKind;
  userKey: string;
  submittedAt: number;
  startedAt?: number;
  /** queue.add has resolved (before that a missing job is not a vanished one). */
  added: boolean;
  /** An ending is being worked out (result fetch, cancel); other paths leave it alone. */
  finishing: boolean;
}

export class RedisQueue implements JobQueue {
  readonly backend = 'redis' as const;
  private readonly log = childLogger({ module: 'redis-queue' });
  private readonly jobs = new Map<string, Tracked>();
  private readonly blobs: BlobStore;
  private readonly idleWaiters: Array<() => void> = [];
  /** Blob and bookkeeping deletes in flight (close waits for them). */
  private readonly cleanups = new Set<Promise<void>>();
  private readonly pollTimer: NodeJS.Timeout;
  private readonly positions: QueuePositions;
  private polling = false;
  private accepting = true;
  private closing?: Promise<void>;

  private constructor(
    private readonly config: Config,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly redis: AdmitClient,
    private readonly observer: QueueObserver,
  ) {
    this.blobs = new BlobStore(redis, mbToBytes(config.ANIMEFY_REDIS_MAX_BLOB_MB));
    this.positions = new QueuePositions(queue, redis, this.jobs, () => this.closing !== undefined, this.log);
    this.listen();
    this.pollTimer = setInterval(() => void this.poll(), POLL_MS);
    this.pollTimer.unref();
  }

  /** Connects to ANIMEFY_REDIS_URL; QUEUE_UNAVAILABLE when Redis cannot be reached. */
  static async connect(config: Config, observer: QueueObserver = NO_OBSERVER): Promise<RedisQueue> {
    const url = requireRedisUrl(config);
    const name = config.ANIMEFY_REDIS_QUEUE;
    // Submit-side clients fail fast while Redis is away (no offline queue), so a bot can answer
    // "try again later" at once instead of hanging; the stream reader waits and reconnects.
    const redis = defineAdmit(
      new Redis(url, {
        connectionName: `animefy:${name}:submit`,
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
      }),
    );
    const log = childLogger({ module: 'redis-queue' });
    // Until the RedisQueue takes over, connection errors are only logged (ioredis retries by itself).
    const onError = (err: Error) => log.warn({ err: err.message }, 'redis connection error');
    redis.on('error', onError);
    const unavailable = (err: unknown) => {
      log.error({ err: errorText(err), redis: redactRedisUrl(url) }, 'could not connect to redis');
      return new AnimefyError('QUEUE_UNAVAILABLE', {}, { cause: err });
    };
    // Our own client first: it fails at once when nothing listens, before BullMQ's clients (which
    // retry forever) exist.
    try {
      await withTimeout(redis.connect(), CONNECT_TIMEOUT_MS, 'redis');
    } catch (err) {
      redis.disconnect();
      throw unavailable(err);
    }
    const queue = new Queue(name, { connection: { url, enableOfflineQueue: false, maxRetriesPerRequest: 1 } });
    const events = new QueueEvents(name, { connection: { url, maxRetriesPerRequest: null }, autorun: false });
    queue.on('error', onError);
    events.on('error', onError);
    try {
      await withTimeout(Promise.all([queue.waitUntilReady(), events.waitUntilReady()]), CONNECT_TIMEOUT_MS, 'redis');
    } catch (err) {
      redis.disconnect();
      await dropConnections(queue, events);
      throw unavailable(err);
    }
    redis.off('error', onError);
    queue.off('error', onError);
    events.off('error', onError);
    const instance = new RedisQueue(config, queue, events, redis, observer);
    void events.run().catch((err: unknown) => instance.log.error({ err: errorText(err) }, 'queue events reader stopped'));
    log.info({ queue: name, redis: redactRedisUrl(url) }, 'redis queue connected');
    return instance;
  }

  get name(): string {
    return this.config.ANIMEFY_REDIS_QUEUE;
  }

  async submit(request: JobRequest): Promise<JobHandle> {
    try {
      return await this.admitAndAdd(request);
    } catch (err) {
      const error = isAnimefyError(err) ? err : new AnimefyError('QUEUE_UNAVAILABLE', {}, { cause: err });
      if (!isAnimefyError(err)) this.log.warn({ err: errorText(err) }, 'submit failed: redis unavailable');
      this.observer.rejected(error.code);
      throw error;
    }
  }

  private async admitAndAdd(request: JobRequest): Promise<QueueJobHandle> {
    if (!this.accepting) throw new AnimefyError('QUEUE_UNAVAILABLE');
    const { config } = this;
    validateRequest(request, { maxInputBytes: mbToBytes(config.ANIMEFY_MAX_INPUT_MB) });
    this.blobs.assertFits(request.input.byteLength);
    const id = randomUUID();
    const name = this.name;
    const userKey = userJobsKey(name, request.requester);
    const inKey = blobKey(name, id, 'in');
    const ttl = config.ANIMEFY_REDIS_BLOB_TTL_S;
    const now = Date.now();
    const [slot, count] = await withTimeout(
      admit(this.redis, this.queue, {
        userKey,
        id,
        now,
        maxQueued: config.ANIMEFY_MAX_QUEUED,
        maxPerUser: config.ANIMEFY_MAX_JOBS_PER_USER,
        blobTtlMs: ttl * 1000,
      }),
      SUBMIT_TIMEOUT_MS,
      'redis',
    );
    if (slot === -2) throw new AnimefyError('USER_BUSY', { limit: config.ANIMEFY_MAX_JOBS_PER_USER });
    if (slot === -1) throw new AnimefyError('QUEUE_FULL', { queued: count });

    const handle = new QueueJobHandle(id, (h) => this.cancel(h));
    const tracked: Tracked = { id, handle, kind: request.kind, userKey, submittedAt: now, added: false, finishing: false };
    // Registered before the add: a worker may take the job before `add` even returns.
    this.jobs.set(id, tracked);
    const data: RedisJobData = { kind: request.kind, options: request.options, requester: request.requester, blobKey: inKey, submittedAt: now };
    let adding: Promise<unknown> | undefined;
    try {
      await withTimeout(this.blobs.put(inKey, request.input, ttl), SUBMIT_TIMEOUT_MS, 'redis');
      adding = this.queue.add(JOB_NAME, data, {
        jobId: id,
        priority: fairPriority(slot, request.priority),
        attempts: config.ANIMEFY_REDIS_ATTEMPTS,
        ...(config.ANIMEFY_REDIS_BACKOFF_S > 0 && { backoff: { type: 'exponential', delay: sToMs(config.ANIMEFY_REDIS_BACKOFF_S) } }),
        // A finished job's meta is only useful while its result blob lives; failures stay a day
        // for post-mortems. By age only: a count cap could drop a result before a slow submitter saw it.
        removeOnComplete: { age: ttl },
        removeOnFail: { age: 24 * 3600 },
      });
      await withTimeout(adding, SUBMIT_TIMEOUT_MS, 'redis');
      tracked.added = true;
    } catch (err) {
      this.jobs.delete(id);
      // If the add still lands after a timeout, take the job back out: nobody is waiting for it.
      void adding?.then(() => this.queue.remove(id)).catch(() => {});
      this.cleanup(tracked);
      throw err;
    }
    this.observer.submitted(request.kind);
    this.log.debug({ job: id, kind: request.kind, slot, requester: requesterKey(request.requester) }, 'job submitted');
    // The first position arrives as an event once the caller has had a chance to listen.
    this.positions.schedule();
    return handle;
  }

  async stats(): Promise<QueueStats> {
    if (this.closing) throw new AnimefyError('QUEUE_UNAVAILABLE');
    return queueStats(this.queue);
  }

  async close(options: { cancelRunning?: boolean } = {}): Promise<void> {
    this.closing ??= this.shutdown(options.cancelRunning ?? false);
    return this.closing;
  }

  private async shutdown(cancelRunning: boolean): Promise<void> {
    this.accepting = false;
    if (cancelRunning) {
      await Promise.allSettled([...this.jobs.values()].map((t) => this.cancel(t.handle)));
    } else if (this.jobs.size > 0) {
      this.log.info({ open: this.jobs.size }, 'closing: waiting for submitted jobs to finish');
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    clearInterval(this.pollTimer);
    this.positions.stop();
    await Promise.allSettled([...this.cleanups]);
    try {
      await withTimeout(Promise.allSettled([this.events.close(), this.queue.close()]), CLOSE_TIMEOUT_MS, 'redis');
    } catch {
      this.log.warn('redis did not answer while closing: dropping the connections');
      await dropConnections(this.queue, this.events);
    }
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  // ---- cancel ----

  /**
   * A queued job is removed from BullMQ (it never runs). A running one is locked by its worker, so
   * `remove` refuses; the worker is told over pub/sub to abort it. A marker key covers a worker that
   * takes the job in between, or misses the message. The handle is settled as cancelled at once.
   */
  private async cancel(handle: QueueJobHandle): Promise<boolean> {
    const tracked = this.jobs.get(handle.id);
    if (!tracked || tracked.finishing || handle.settled) return false;
    tracked.finishing = true;
    const { id } = tracked;
    try {
      await withTimeout(
        (async () => {
          const marker = cancelMarkerKey(this.name, id);
          await this.redis.set(marker, '1', 'EX', this.config.ANIMEFY_REDIS_BLOB_TTL_S);
          const removed = await this.queue.remove(id);
          // Removed: no worker will ever see it, so the marker can go. Locked: tell its worker.
          if (removed) await this.redis.del(marker);
          else await this.redis.publish(cancelChannel(this.name), id);
          this.log.debug({ job: id, removed: Boolean(removed) }, 'job cancelled');
        })(),
        SUBMIT_TIMEOUT_MS,
        'redis',
      );
    } catch (err) {
      // Still cancelled for the submitter: the worker finds the marker or its result is dropped.
      this.log.warn({ err: errorText(err), job: id }, 'could not reach redis to cancel a job');
    }
    this.settle(tracked, 'cancelled', undefined, () => handle.markCancelled());
    return true;
  }

  // ---- events ----

  private listen(): void {
    const { events } = this;
    events.on('error', (err) => this.log.warn({ err: errorText(err) }, 'queue events error'));
    events.on('waiting', () => this.positions.schedule());
    events.on('active', ({ jobId }) => {
      const tracked = this.jobs.get(jobId);
      if (tracked) this.markStarted(tracked);
      this.positions.schedule();
    });
    events.on('progress', ({ jobId, data }) => {
      const tracked = this.jobs.get(jobId);
      const event = toProgressEvent(data);
      if (!tracked || tracked.finishing || !event) return;
      this.markStarted(tracked);
      tracked.handle.markProgress(event);
    });
    events.on('completed', ({ jobId, returnvalue }) => {
      this.positions.schedule();
      void this.complete(jobId, returnvalue);
    });
    events.on('failed', ({ jobId, failedReason }) => {
      this.positions.schedule();
      void this.fail(jobId, failedReason, false);
    });
    events.on('removed', ({ jobId }) => {
      this.positions.schedule();
      this.vanished(jobId, 'removed');
    });
  }

  private markStarted(tracked: Tracked): void {
    if (tracked.handle.state !== 'queued') return;
    tracked.startedAt = Date.now();
    this.observer.started(tracked.kind, (tracked.startedAt - tracked.submittedAt) / 1000);
    tracked.handle.markRunning();
  }

  private async complete(jobId: string, returnvalue: unknown): Promise<void> {
    const tracked = this.jobs.get(jobId);
    if (!tracked || tracked.finishing) return;
    tracked.finishing = true;
    try {
      const meta = parseMeta(returnvalue);
      const data = await this.blobs.get(meta.blobKey);
      const { blobKey: _key, ...rest } = meta;
      const result: JobResult = { ...rest, data };
      this.settle(tracked, 'done', undefined, () => tracked.handle.markDone(result));
    } catch (err) {
      const error = isAnimefyError(err) ? err : new AnimefyError('QUEUE_UNAVAILABLE', {}, { cause: err });
      this.log.warn({ err: errorText(err), job: jobId, code: error.code }, 'could not fetch a finished job result');
      this.settle(tracked, 'failed', error.code, () => tracked.handle.markFailed(error));
    }
  }

  /**
   * BullMQ emits `failed` only when a job is done trying; still, the handle fails only once the job
   * really sits in `failed` (or is gone), never while a retry is pending.
   */
  private async fail(jobId: string, failedReason: string | undefined, stateKnown: boolean): Promise<void> {
    const tracked = this.jobs.get(jobId);
    if (!tracked || tracked.finishing) return;
    if (!stateKnown) {
      const state = await this.queue.getJobState(jobId).catch(() => 'failed' as const);
      if (state !== 'failed' && state !== 'unknown') return;
    }
    if (!this.jobs.has(jobId) || tracked.finishing) return;
    const error = errorFromFailedReason(failedReason);
    if (error.code === 'INTERNAL') this.log.error({ job: jobId, reason: failedReason }, 'job failed with an internal error');
    const outcome: JobOutcome = error.code === 'CANCELLED' ? 'cancelled' : 'failed';
    this.settle(tracked, outcome, error.code, () => tracked.handle.markFailed(error));
  }

  /** The job left BullMQ without finishing: someone removed it, which counts as a cancel. */
  private vanished(jobId: string, why: string): void {
    const tracked = this.jobs.get(jobId);
    if (!tracked || tracked.finishing || !tracked.added) return;
    this.log.info({ job: jobId, why }, 'job left the queue without finishing');
    this.settle(tracked, 'cancelled', undefined, () => tracked.handle.markCancelled());
  }

  /** Ends a handle once: bookkeeping, metrics, blob and per-user cleanup. */
  private settle(tracked: Tracked, outcome: JobOutcome, code: ErrorCode | undefined, apply: () => void): void {
    if (this.jobs.get(tracked.id) !== tracked) return;
    this.jobs.delete(tracked.id);
    apply();
    const runSeconds = tracked.startedAt ? (Date.now() - tracked.startedAt) / 1000 : 0;
    this.observer.finished(tracked.kind, outcome, code, runSeconds);
    this.cleanup(tracked);
    if (this.jobs.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Deletes a finished job's blobs and per-user entry, in the background (close waits for it). */
  private cleanup(tracked: Tracked): void {
    const done = Promise.all([
      this.blobs.delete(blobKey(this.name, tracked.id, 'in'), blobKey(this.name, tracked.id, 'out')),
      this.redis.zrem(tracked.userKey, tracked.id),
    ]).then(
      () => {},
      (err: unknown) => {
        // The TTLs clean up what this could not.
        this.log.debug({ err: errorText(err), job: tracked.id }, 'blob cleanup failed');
      },
    );
    this.cleanups.add(done);
    void done.finally(() => this.cleanups.delete(done));
  }

  // ---- safety net ----

  /** Looks at every open job's state, for events lost to a reconnect or sent before we listened. */
  private async poll(): Promise<void> {
    const open = [...this.jobs.values()].filter((t) => !t.finishing && t.added);
    if (open.length === 0 || this.polling) return;
    this.polling = true;
    await Promise.all(
      open.map(async (tracked) => {
        try {
          const state = await this.queue.getJobState(tracked.id);
          if (state === 'active') {
            this.markStarted(tracked);
          } else if (state === 'completed') {
            const job = await this.queue.getJob(tracked.id);
            if (job) await this.complete(tracked.id, job.returnvalue);
            else this.vanished(tracked.id, 'completed job gone');
          } else if (state === 'failed') {
            const job = await this.queue.getJob(tracked.id);
            await this.fail(tracked.id, job?.failedReason, true);
          } else if (state === 'unknown') {
            this.vanished(tracked.id, 'not in redis');
          }
        } catch (err) {
          this.log.debug({ err: errorText(err), job: tracked.id }, 'job state poll failed');
        }
      }),
    ).finally(() => (this.polling = false));
    this.positions.schedule();
  }
}

/** Counts straight from Redis: queued = waiting + prioritized + delayed (retries), running = active. */
export async function queueStats(queue: Queue): Promise<QueueStats> {
  try {
    const [counts, workers] = await withTimeout(
      Promise.all([queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active'), queue.getWorkers()]),
      SUBMIT_TIMEOUT_MS,
      'redis',
    );
    const n = (key: string) => counts[key] ?? 0;
    return {
      backend: 'redis',
      queued: n('waiting') + n('prioritized') + n('delayed'),
      running: n('active'),
      workers: workers.length,
    };
  } catch (err) {
    throw new AnimefyError('QUEUE_UNAVAILABLE', {}, { cause: err });
  }
}

/**
 * Closes BullMQ clients without waiting for Redis: QueueEvents.close() first waits for its connection
 * to be ready, which never happens while Redis is away; the backend's forced close does not.
 */
async function dropConnections(queue: Queue, events: QueueEvents): Promise<void> {
  await Promise.allSettled([queue.getBackend().close(true), events.getBackend().close(true)]);
}
