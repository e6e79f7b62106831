/**
 * Isolated worker processes for the pipeline. onnxruntime blocks the thread it runs on for most of a
 * job, and a native crash or an out-of-memory kill takes its whole process down, so the pipeline never
 * runs in a bot's process: each job runs in a child process that keeps its models loaded between jobs.
 *
 * A crash, an out-of-memory (resident memory over the limit), a timeout or a cancel that the pipeline
 * does not honour in time fails only that job with its own error; the process is replaced at once and
 * the next job runs on the new one.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Config, sToMs } from '../config.ts';
import { AnimefyError, throwIfCancelled } from '../errors.ts';
import { childLogger } from '../log.ts';
import type { ProgressEvent } from '../pipeline/progress.ts';
import { NO_OBSERVER, type QueueObserver, type WorkerRestartReason } from './observer.ts';
import type { JobResult, MediaKind, WorkerTask } from './types.ts';
import type { ChildMessage, ParentMessage } from './worker-protocol.ts';

const CHILD_ENTRY = fileURLToPath(new URL('./worker-child.ts', import.meta.url));
/** tsx's loader, so the child runs TypeScript like the parent (resolved from this package). */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** A worker that has not said `ready` by then is considered broken. */
const READY_TIMEOUT_MS = 60_000;
const RSS_POLL_MS = 500;
const SHUTDOWN_GRACE_MS = 3000;
/** Unix niceness of worker processes (0 normal, 19 lowest). */
const WORKER_NICENESS = 10;

export interface WorkerPoolOptions {
  /** Worker processes, i.e. jobs at once. */
  size: number;
  /** Per media kind: a job running longer is stopped and its worker replaced. */
  timeoutsMs: Record<MediaKind, number>;
  /** A worker whose resident memory passes this is stopped (OUT_OF_MEMORY); 0 = no limit. */
  maxRssBytes: number;
  /** How long a cancelled job may take to stop by itself before its worker is killed. */
  cancelGraceMs: number;
  /** Extra environment for the worker processes (tests use it to change settings). */
  env?: NodeJS.ProcessEnv;
  observer?: QueueObserver;
}

export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  /** Called when the task has been handed to a worker process. */
  onStart?: () => void;
}

interface ActiveRun {
  task: WorkerTask;
  options: RunOptions;
  resolve: (result: JobResult) => void;
  reject: (error: AnimefyError) => void;
  timers: NodeJS.Timeout[];
  onAbort?: () => void;
}

interface WorkerProcess {
  child: ChildProcess;
  ready: Promise<void>;
  busy: boolean;
  dead: boolean;
  run?: ActiveRun;
}

export function workerPoolOptions(config: Config, observer?: QueueObserver): WorkerPoolOptions {
  const size = config.ANIMEFY_CONCURRENCY;
  const maxRssBytes =
    config.ANIMEFY_WORKER_MAX_RSS_MB > 0 ? config.ANIMEFY_WORKER_MAX_RSS_MB * 2 ** 20 : Math.floor((os.totalmem() * 0.8) / size);
  return {
    size,
    timeoutsMs: {
      image: config.ANIMEFY_IMAGE_TIMEOUT_S * 1000,
      gif: config.ANIMEFY_VIDEO_TIMEOUT_S * 1000,
      video: config.ANIMEFY_VIDEO_TIMEOUT_S * 1000,
    },
    maxRssBytes,
    cancelGraceMs: sToMs(config.ANIMEFY_CANCEL_GRACE_S),
    observer,
  };
}

export class WorkerPool {
  private readonly workers: WorkerProcess[] = [];
  private readonly waiters: Array<() => void> = [];
  private readonly observer: QueueObserver;
  private readonly log = childLogger({ module: 'worker-pool' });
  private closed = false;

  constructor(private readonly options: WorkerPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) throw new RangeError('WorkerPool size must be a positive integer');
    this.observer = options.observer ?? NO_OBSERVER;
  }

  static fromConfig(config: Config, observer?: QueueObserver): WorkerPool {
    return new WorkerPool(workerPoolOptions(config, observer));
  }

  get size(): number {
    return this.options.size;
  }

  /** Worker processes alive now. */
  pids(): number[] {
    return this.workers.filter((w) => !w.dead && w.child.pid !== undefined).map((w) => w.child.pid!);
  }

  /** Starts every worker process now instead of on the first jobs (their boot overlaps other work). */
  async warmUp(): Promise<void> {
    while (this.workers.length < this.options.size && !this.closed) this.workers.push(this.spawn());
    await Promise.allSettled(this.workers.map((w) => w.ready));
  }

  /** Runs one task in a worker process, waiting for a free one. Rejects with an AnimefyError. */
  async run(task: WorkerTask, options: RunOptions = {}): Promise<JobResult> {
    if (this.closed) throw new AnimefyError('CANCELLED');
    throwIfCancelled(options.signal);
    const worker = await this.acquire(options.signal);
    try {
      await worker.ready;
      throwIfCancelled(options.signal);
      return await this.execute(worker, task, options);
    } finally {
      worker.busy = false;
      this.wakeWaiter();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const wake of this.waiters.splice(0)) wake();
    await Promise.all(this.workers.map((w) => this.stop(w)));
  }

  private async acquire(signal: AbortSignal | undefined): Promise<WorkerProcess> {
    for (;;) {
      if (this.closed) throw new AnimefyError('CANCELLED');
      throwIfCancelled(signal);
      const idle = this.workers.find((w) => !w.busy && !w.dead);
      if (idle) {
        idle.busy = true;
        return idle;
      }
      if (this.workers.length < this.options.size) {
        const worker = this.spawn();
        this.workers.push(worker);
        worker.busy = true;
        return worker;
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal?.removeEventListener('abort', wake);
          resolve();
        };
        this.waiters.push(wake);
        signal?.addEventListener('abort', wake, { once: true });
      });
    }
  }

  private wakeWaiter(): void {
    this.waiters.shift()?.();
  }

  private spawn(): WorkerProcess {
    const child = fork(CHILD_ENTRY, [], {
      execArgv: ['--import', TSX_LOADER],
      serialization: 'advanced',
      env: { ...process.env, ...this.options.env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Its own process group, so killing a worker also kills the ffmpeg processes it started.
      detached: true,
    });
    // Workers keep every core busy; a lower CPU priority keeps the bot's event loop (and the OS)
    // responsive while they do, at no cost to their throughput when the bot is idle.
    try {
      if (child.pid !== undefined) os.setPriority(child.pid, WORKER_NICENESS);
    } catch {
      // not permitted here: run at normal priority
    }
    const worker: WorkerProcess = { child, ready: Promise.resolve(), busy: false, dead: false };
    worker.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.log.error({ pid: child.pid }, 'worker process did not start in time');
        killProcessGroup(child);
        reject(new AnimefyError('WORKER_CRASHED'));
      }, READY_TIMEOUT_MS);
      child.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', () => {
        clearTimeout(timer);
        reject(new AnimefyError('WORKER_CRASHED'));
      });
    });
    worker.ready.catch(() => {});
    child.on('message', (message: ChildMessage) => this.onMessage(worker, message));
    child.on('error', (err) => this.log.error({ err, pid: child.pid }, 'worker process error'));
    child.on('exit', (code, signal) => this.onExit(worker, code, signal));
    this.log.debug({ pid: child.pid }, 'worker process started');
    return worker;
  }

  private execute(worker: WorkerProcess, task: WorkerTask, options: RunOptions): Promise<JobResult> {
    return new Promise<JobResult>((resolve, reject) => {
      const run: ActiveRun = { task, options, resolve, reject, timers: [] };
      worker.run = run;
      const timeoutMs = this.options.timeoutsMs[task.kind];
      run.timers.push(
        setTimeout(() => this.kill(worker, new AnimefyError('JOB_TIMEOUT', { seconds: Math.round(timeoutMs / 1000) }), 'timeout'), timeoutMs),
      );
      if (this.options.maxRssBytes > 0 && process.platform === 'linux') {
        run.timers.push(
          setInterval(() => {
            const { rss } = processMemory(worker.child.pid);
            if (rss > this.options.maxRssBytes) {
              this.log.warn({ pid: worker.child.pid, job: task.id, rssMb: Math.round(rss / 2 ** 20) }, 'worker over its memory limit');
              this.kill(worker, new AnimefyError('OUT_OF_MEMORY'), 'oom');
            }
          }, RSS_POLL_MS),
        );
      }
      if (options.signal) {
        run.onAbort = () => {
          this.send(worker, { type: 'cancel', id: task.id });
          run.timers.push(setTimeout(() => this.kill(worker, new AnimefyError('CANCELLED'), 'cancel'), this.options.cancelGraceMs));
        };
        options.signal.addEventListener('abort', run.onAbort, { once: true });
      }
      this.send(worker, { type: 'run', task });
      options.onStart?.();
    });
  }

  private onMessage(worker: WorkerProcess, message: ChildMessage): void {
    const run = worker.run;
    if (message.type === 'ready' || !run || message.id !== run.task.id) return;
    switch (message.type) {
      case 'progress':
        run.options.onProgress?.(message.event);
        break;
      case 'done': {
        const { result } = message;
        this.settle(worker, () => run.resolve({ ...result, data: toBuffer(result.data) }));
        break;
      }
      case 'failed':
        this.settle(worker, () => run.reject(AnimefyError.fromJSON(message.error)));
        break;
    }
  }

  private onExit(worker: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const expected = worker.dead; // killed by us (timeout, memory, cancel, shutdown)
    worker.dead = true;
    // Anything it started (ffmpeg) goes with it, also when something else killed it (the OOM killer).
    try {
      if (worker.child.pid !== undefined) process.kill(-worker.child.pid, 'SIGKILL');
    } catch {
      // the group is already empty
    }
    const index = this.workers.indexOf(worker);
    if (index >= 0) this.workers.splice(index, 1);
    if (worker.run) {
      const run = worker.run;
      this.log.error({ pid: worker.child.pid, code, signal, job: run.task.id, kind: run.task.kind }, 'worker process died during a job');
      this.settle(worker, () => run.reject(new AnimefyError('WORKER_CRASHED')));
      this.observer.workerRestarted('crash');
      this.replace();
    } else if (!this.closed && !expected) {
      this.log.warn({ pid: worker.child.pid, code, signal }, 'idle worker process exited; a new one starts with the next job');
    }
    this.wakeWaiter();
  }

  /** Ends a job with `error`, kills its process and starts a replacement. */
  private kill(worker: WorkerProcess, error: AnimefyError, reason: WorkerRestartReason): void {
    const run = worker.run;
    if (!run) return;
    this.log.warn({ pid: worker.child.pid, job: run.task.id, kind: run.task.kind, code: error.code }, 'stopping worker process');
    this.settle(worker, () => run.reject(error));
    worker.dead = true;
    killProcessGroup(worker.child);
    this.observer.workerRestarted(reason);
    const index = this.workers.indexOf(worker);
    if (index >= 0) this.workers.splice(index, 1);
    this.replace();
  }

  /** Boots a replacement right away, so its start-up overlaps the wait for the next job. */
  private replace(): void {
    if (this.closed || this.workers.length >= this.options.size) return;
    this.workers.push(this.spawn());
    this.wakeWaiter();
  }

  private settle(worker: WorkerProcess, finish: () => void): void {
    const run = worker.run;
    if (!run) return;
    worker.run = undefined;
    for (const timer of run.timers) clearTimeout(timer);
    if (run.onAbort) run.options.signal?.removeEventListener('abort', run.onAbort);
    finish();
  }

  private send(worker: WorkerProcess, message: ParentMessage): void {
    if (!worker.child.connected) return;
    worker.child.send(message, (err) => {
      if (err) this.log.warn({ err, pid: worker.child.pid }, 'could not reach worker process');
    });
  }

  private async stop(worker: WorkerProcess): Promise<void> {
    if (worker.dead) return;
    worker.dead = true;
    const exited = new Promise<void>((resolve) => worker.child.once('exit', () => resolve()));
    const run = worker.run;
    if (run) this.settle(worker, () => run.reject(new AnimefyError('CANCELLED')));
    this.send(worker, { type: 'shutdown' });
    const timer = setTimeout(() => killProcessGroup(worker.child), SHUTDOWN_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
}

/** SIGKILLs a worker and everything it started (its process group; the worker alone where that fails). */
function killProcessGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
    else child.kill('SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** A process's resident memory now and at its peak, from /proc (Linux); zeros when unreadable. */
export function processMemory(pid: number | undefined): { rss: number; peak: number } {
  if (pid === undefined) return { rss: 0, peak: 0 };
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return { rss: 0, peak: 0 };
  }
}

/** Structured clone turns a Buffer into a plain Uint8Array; wrap it without copying. */
function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
