/**
 * The default backend: one machine, no services. p-queue bounds how many jobs run at once; which job
 * runs next is the fair scheduler's choice (each p-queue task takes whichever job is next when it
 * starts); the jobs themselves run in isolated worker processes.
 */
import { randomUUID } from 'node:crypto';
import PQueue from 'p-queue';
import { type Config, mbToBytes } from '../config.ts';
import { AnimefyError, isAnimefyError } from '../errors.ts';
import { childLogger } from '../log.ts';
import { FairScheduler } from './fair-scheduler.ts';
import { QueueJobHandle } from './handle.ts';
import { NO_OBSERVER, type QueueObserver } from './observer.ts';
import { requesterKey, type JobHandle, type JobQueue, type JobRequest, type QueueStats } from './types.ts';
import { validateRequest } from './validate.ts';
import { WorkerPool } from './worker-pool.ts';

export interface EmbeddedQueueOptions {
  pool: WorkerPool;
  /** Jobs running at once (the pool should have as many workers). */
  concurrency: number;
  /** Waiting jobs at most; past it submit fails with QUEUE_FULL. */
  maxQueued: number;
  /** Queued + running jobs per requester; past it submit fails with USER_BUSY. */
  maxPerUser: number;
  maxInputBytes: number;
  observer?: QueueObserver;
}

interface Entry {
  readonly requester: string;
  readonly priority: number;
  readonly request: JobRequest;
  readonly handle: QueueJobHandle;
  readonly submittedAt: number;
  controller?: AbortController;
}

export class EmbeddedQueue implements JobQueue {
  readonly backend = 'embedded' as const;
  private readonly slots: PQueue;
  private readonly waiting = new FairScheduler<Entry>();
  private readonly entries = new Map<string, Entry>();
  private readonly perUser = new Map<string, number>();
  private readonly observer: QueueObserver;
  private readonly log = childLogger({ module: 'queue', backend: 'embedded' });
  private running = 0;
  private closed = false;

  constructor(private readonly options: EmbeddedQueueOptions) {
    this.slots = new PQueue({ concurrency: options.concurrency });
    this.observer = options.observer ?? NO_OBSERVER;
  }

  static fromConfig(config: Config, observer?: QueueObserver): EmbeddedQueue {
    const pool = WorkerPool.fromConfig(config, observer);
    void pool.warmUp();
    return new EmbeddedQueue({
      pool,
      concurrency: config.ANIMEFY_CONCURRENCY,
      maxQueued: config.ANIMEFY_MAX_QUEUED,
      maxPerUser: config.ANIMEFY_MAX_JOBS_PER_USER,
      maxInputBytes: mbToBytes(config.ANIMEFY_MAX_INPUT_MB),
      observer,
    });
  }

  get pool(): WorkerPool {
    return this.options.pool;
  }

  async submit(request: JobRequest): Promise<JobHandle> {
    try {
      if (this.closed) throw new AnimefyError('QUEUE_UNAVAILABLE');
      validateRequest(request, { maxInputBytes: this.options.maxInputBytes });
      if (this.waiting.size >= this.options.maxQueued) throw new AnimefyError('QUEUE_FULL', { queued: this.waiting.size });
      const requester = requesterKey(request.requester);
      const mine = this.perUser.get(requester) ?? 0;
      if (mine >= this.options.maxPerUser) throw new AnimefyError('USER_BUSY', { limit: this.options.maxPerUser });

      const handle = new QueueJobHandle(randomUUID(), (h) => this.cancel(h));
      const entry: Entry = { requester, priority: request.priority ?? 0, request, handle, submittedAt: performance.now() };
      this.entries.set(handle.id, entry);
      this.perUser.set(requester, mine + 1);
      this.waiting.push(entry);
      void this.slots.add(() => this.runNext());
      this.observer.submitted(request.kind);
      this.updatePositions();
      return handle;
    } catch (err) {
      if (isAnimefyError(err)) this.observer.rejected(err.code);
      throw err;
    }
  }

  async stats(): Promise<QueueStats> {
    return { backend: 'embedded', queued: this.waiting.size, running: this.running, workers: this.pool.pids().length };
  }

  async close(options: { cancelRunning?: boolean } = {}): Promise<void> {
    this.closed = true;
    if (options.cancelRunning) await Promise.all([...this.entries.values()].map((e) => e.handle.cancel()));
    await this.slots.onIdle();
    await this.pool.close();
  }

  /** One p-queue slot: runs whichever job the scheduler says is next (if any is left). */
  private async runNext(): Promise<void> {
    const entry = this.waiting.next();
    if (!entry) return; // its job was cancelled while waiting
    const { request, handle } = entry;
    const controller = (entry.controller = new AbortController());
    const waitSeconds = (performance.now() - entry.submittedAt) / 1000;
    this.running++;
    handle.markRunning();
    this.updatePositions();
    this.observer.started(request.kind, waitSeconds);
    const started = performance.now();
    try {
      const result = await this.pool.run(
        { id: handle.id, input: request.input, kind: request.kind, options: request.options },
        { signal: controller.signal, onProgress: (event) => handle.markProgress(event) },
      );
      handle.markDone(result);
      this.observer.finished(request.kind, 'done', undefined, (performance.now() - started) / 1000);
    } catch (err) {
      const error = isAnimefyError(err) ? err : new AnimefyError('INTERNAL', {}, { cause: err });
      if (!isAnimefyError(err)) this.log.error({ err, job: handle.id, kind: request.kind }, 'job failed unexpectedly');
      handle.markFailed(error);
      const outcome = error.code === 'CANCELLED' ? 'cancelled' : 'failed';
      this.observer.finished(request.kind, outcome, error.code, (performance.now() - started) / 1000);
    } finally {
      this.running--;
      this.release(entry);
    }
  }

  private async cancel(handle: QueueJobHandle): Promise<boolean> {
    const entry = this.entries.get(handle.id);
    if (!entry) return false;
    if (this.waiting.remove(entry)) {
      handle.markCancelled();
      this.observer.finished(entry.request.kind, 'cancelled', 'CANCELLED', 0);
      this.release(entry);
      this.updatePositions();
      return true;
    }
    // Running: the worker stops at its next check (or is killed after the grace period); the user
    // hears about it now, and the slot frees when the worker is done.
    entry.controller?.abort();
    handle.markCancelled();
    return true;
  }

  private release(entry: Entry): void {
    if (!this.entries.delete(entry.handle.id)) return;
    const left = (this.perUser.get(entry.requester) ?? 1) - 1;
    if (left > 0) this.perUser.set(entry.requester, left);
    else this.perUser.delete(entry.requester);
  }

  private updatePositions(): void {
    this.waiting.order().forEach((entry, index) => entry.handle.markPosition(index + 1));
  }
}
