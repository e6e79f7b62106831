/**
 * The scale-out queue backend: bots submit into a BullMQ queue in Redis and `npm run worker`
 * processes (any number, on any machine that reaches Redis) run the jobs. See `redis-worker.ts` for
 * the other side.
 *
 * What lives where in Redis (queue name `q`):
 *   bull:q:*                BullMQ's own keys (job hashes, wait list, prioritized zset, events stream)
 *   q:blob:<id>:in|out      the media bytes, with a TTL (blobs.ts explains why they are not job data)
 *   q:user:<platform:id>    zset of a requester's outstanding job ids (per-user cap, fairness)
 *   q:cancelled:<id>        a cancel marker a worker checks before and while it runs the job
 *   q:cancel                pub/sub channel: "stop this running job now"
 *
 * Every bot process holds one RedisQueue; the handles it gives out are driven by one QueueEvents
 * stream reader, with a slow poll as a safety net so that a missed event never leaves a handle hanging.
 */
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents, UnrecoverableError } from 'bullmq';
import { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { AnimefyError, errorText, isAnimefyError, PERMANENT_ERRORS, withTimeout, type ErrorCode } from '../errors.ts';
import { childLogger } from '../log.ts';
import { isStage, type ProgressEvent } from '../pipeline/animefy.ts';
import { BlobStore, blobKey } from './blobs.ts';
import { validateRequest } from './validate.ts';
import { QueueJobHandle } from './handle.ts';
import { NO_OBSERVER, type JobOutcome, type QueueObserver } from './observer.ts';
import {
  requesterKey,
  type JobHandle,
  type JobOptions,
  type JobQueue,
  type JobRequest,
  type JobResult,
  type MediaKind,
  type QueueStats,
  type Requester,
} from './types.ts';

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

/**
 * Fairness with priorities. Open-source BullMQ has no per-group round robin, but it runs prioritized
 * jobs in (priority, insertion) order. A requester's n-th outstanding job gets slot n-1, and the BullMQ
 * priority grows with the slot: every user's first job runs before anyone's second, whatever the
 * order they arrived in, and within a slot it is first come, first served. `JobRequest.priority`
 * (higher = sooner) picks a band of slots, so a higher request priority always runs first.
 *
 * BullMQ priorities are 1..2^21-1, lower first: 1024 bands of 1024 slots fit (slots past 1023, which
 * ANIMEFY_MAX_JOBS_PER_USER ≤ 1000 never reaches, share the last one).
 */
const FAIR_SLOTS = 1024;
const MAX_REQUEST_PRIORITY = 511;
const MIN_REQUEST_PRIORITY = -512;

export function fairPriority(slot: number, requestPriority = 0): number {
  const level = Math.min(MAX_REQUEST_PRIORITY, Math.max(MIN_REQUEST_PRIORITY, Math.round(requestPriority) || 0));
  const clampedSlot = Math.min(FAIR_SLOTS - 1, Math.max(0, Math.floor(slot)));
  return (MAX_REQUEST_PRIORITY - level) * FAIR_SLOTS + clampedSlot + 1;
}

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

/** Submitting is a handful of Redis round trips; past this Redis counts as unavailable. */
const SUBMIT_TIMEOUT_MS = 5000;
const CONNECT_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 5000;
/** Positions are recomputed at most this often (events can come by the hundred). */
const POSITION_DEBOUNCE_MS = 250;
/** The safety net: open handles' jobs are looked at this often, whatever the events said. */
const POLL_MS = 3000;
/** An admitted job whose BullMQ hash does not exist yet is still being added for this long. */
const ADMIT_GRACE_MS = 30_000;

/**
 * Admission in one atomic step, so bot processes sharing Redis agree on the caps: prune the
 * requester's finished or vanished jobs, refuse over the per-user cap (USER_BUSY) or the queue bound
 * (QUEUE_FULL), else record the job. Returns {slot, queued} or {-2, outstanding} / {-1, queued}.
 *
 * A job is outstanding while its BullMQ hash exists without `finishedOn` (queued, running, or waiting
 * for a retry), or for ADMIT_GRACE_MS after admission before its hash appears.
 */
const ADMIT_SCRIPT = `
local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local now = tonumber(ARGV[5])
local outstanding = 0
for i = 1, #members, 2 do
  local id = members[i]
  local jobKey = ARGV[1] .. id
  local live
  if redis.call('EXISTS', jobKey) == 1 then
    live = redis.call('HEXISTS', jobKey, 'finishedOn') == 0
  else
    live = now - tonumber(members[i + 1]) < tonumber(ARGV[6])
  end
  if live then
    outstanding = outstanding + 1
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
if outstanding >= tonumber(ARGV[3]) then
  return {-2, outstanding}
end
local queued = redis.call('LLEN', KEYS[2]) + redis.call('LLEN', KEYS[3]) + redis.call('ZCARD', KEYS[4]) + redis.call('ZCARD', KEYS[5])
if queued >= tonumber(ARGV[2]) then
  return {-1, queued}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return {outstanding, queued}
`;

type AdmitClient = Redis & {
  animefyAdmit(
    userKey: string,
    waitKey: string,
    pausedKey: string,
    prioritizedKey: string,
    delayedKey: string,
    jobKeyPrefix: string,
    maxQueued: number,
    maxPerUser: number,
    jobId: string,
    now: number,
    graceMs: number,
    ttlMs: number,
  ): Promise<[number, number]>;
};

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
  private positionTimer?: NodeJS.Timeout;
  private refreshingPositions = false;
  private polling = false;
  private positionsDirty = false;
  private accepting = true;
  private closing?: Promise<void>;

  private constructor(
    private readonly config: Config,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly redis: AdmitClient,
    private readonly observer: QueueObserver,
  ) {
    this.blobs = new BlobStore(redis, config.ANIMEFY_REDIS_MAX_BLOB_BYTES);
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
    const redis = new Redis(url, {
      connectionName: `animefy:${name}:submit`,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    }) as AdmitClient;
    redis.defineCommand('animefyAdmit', { numberOfKeys: 5, lua: ADMIT_SCRIPT });
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
    validateRequest(request, { maxInputBytes: config.ANIMEFY_MAX_INPUT_BYTES });
    this.blobs.assertFits(request.input.byteLength);
    const id = randomUUID();
    const name = this.name;
    const userKey = userJobsKey(name, request.requester);
    const inKey = blobKey(name, id, 'in');
    const ttl = config.ANIMEFY_REDIS_BLOB_TTL_S;
    const now = Date.now();
    const [slot, count] = await withTimeout(
      this.redis.animefyAdmit(
        userKey,
        this.queue.keys.wait,
        this.queue.keys.paused,
        this.queue.keys.prioritized,
        this.queue.keys.delayed,
        this.queue.toKey(''),
        config.ANIMEFY_MAX_QUEUED,
        config.ANIMEFY_MAX_JOBS_PER_USER,
        id,
        now,
        ADMIT_GRACE_MS,
        ttl * 1000 + ADMIT_GRACE_MS,
      ),
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
        ...(config.ANIMEFY_REDIS_BACKOFF_MS > 0 && { backoff: { type: 'exponential', delay: config.ANIMEFY_REDIS_BACKOFF_MS } }),
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
    this.schedulePositions();
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
    clearTimeout(this.positionTimer);
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
    events.on('waiting', () => this.schedulePositions());
    events.on('active', ({ jobId }) => {
      const tracked = this.jobs.get(jobId);
      if (tracked) this.markStarted(tracked);
      this.schedulePositions();
    });
    events.on('progress', ({ jobId, data }) => {
      const tracked = this.jobs.get(jobId);
      const event = toProgressEvent(data);
      if (!tracked || tracked.finishing || !event) return;
      this.markStarted(tracked);
      tracked.handle.markProgress(event);
    });
    events.on('completed', ({ jobId, returnvalue }) => {
      this.schedulePositions();
      void this.complete(jobId, returnvalue);
    });
    events.on('failed', ({ jobId, failedReason }) => {
      this.schedulePositions();
      void this.fail(jobId, failedReason, false);
    });
    events.on('removed', ({ jobId }) => {
      this.schedulePositions();
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
    this.schedulePositions();
  }

  // ---- positions ----

  private schedulePositions(): void {
    if (this.positionTimer || this.closing) return;
    this.positionTimer = setTimeout(() => {
      this.positionTimer = undefined;
      void this.refreshPositions();
    }, POSITION_DEBOUNCE_MS);
    this.positionTimer.unref();
  }

  /**
   * BullMQ's run order is the wait list first (taken from its tail: retried and stalled jobs) then
   * the prioritized zset in score order. Our queued jobs' places come from one pipeline of
   * LLEN + ZRANK/LPOS per open handle: O(log n) each, instead of listing the whole queue.
   */
  private async refreshPositions(): Promise<void> {
    if (this.refreshingPositions) {
      this.positionsDirty = true;
      return;
    }
    const queued = [...this.jobs.values()].filter((t) => t.handle.state === 'queued' && !t.finishing);
    if (queued.length === 0) return;
    this.refreshingPositions = true;
    try {
      const { wait, prioritized } = this.queue.keys;
      const pipeline = this.redis.pipeline().llen(wait);
      for (const t of queued) pipeline.lpos(wait, t.id).zrank(prioritized, t.id);
      const replies = (await pipeline.exec()) ?? [];
      const value = (i: number): number | null => {
        const [err, v] = replies[i] ?? [null, null];
        return err || v === null || v === undefined ? null : Number(v);
      };
      const waiting = value(0) ?? 0;
      queued.forEach((t, i) => {
        const inWait = value(1 + 2 * i);
        const rank = value(2 + 2 * i);
        // Not in either: delayed (waiting for a retry) or just taken by a worker.
        const position = inWait !== null ? waiting - inWait : rank !== null ? waiting + rank + 1 : null;
        if (position !== null) t.handle.markPosition(position);
      });
    } catch (err) {
      this.log.debug({ err: errorText(err) }, 'could not refresh queue positions');
    } finally {
      this.refreshingPositions = false;
      if (this.positionsDirty) {
        this.positionsDirty = false;
        this.schedulePositions();
      }
    }
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

function toProgressEvent(data: unknown): ProgressEvent | undefined {
  if (!data || typeof data !== 'object') return undefined;
  const { stage, percent, frame, frames } = data as Record<string, unknown>;
  if (!isStage(stage) || typeof percent !== 'number') return undefined;
  const event: ProgressEvent = { stage, percent };
  if (typeof frame === 'number' && typeof frames === 'number') Object.assign(event, { frame, frames });
  return event;
}

function parseMeta(value: unknown): RedisJobMeta {
  const meta = (typeof value === 'string' ? JSON.parse(value) : value) as Partial<RedisJobMeta> | null;
  if (!meta || typeof meta !== 'object' || typeof meta.blobKey !== 'string' || typeof meta.mime !== 'string') {
    throw new AnimefyError('INTERNAL', {}, { cause: 'malformed job return value' });
  }
  return meta as RedisJobMeta;
}

/**
 * Closes BullMQ clients without waiting for Redis: QueueEvents.close() first waits for its connection
 * to be ready, which never happens while Redis is away; the backend's forced close does not.
 */
async function dropConnections(queue: Queue, events: QueueEvents): Promise<void> {
  await Promise.allSettled([queue.getBackend().close(true), events.getBackend().close(true)]);
}

