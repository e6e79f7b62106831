/**
 * Prometheus metrics for the queue and its workers (prom-client).
 *
 * `createMetrics()` makes a fresh registry (tests and a process with several queues make several)
 * and a `QueueObserver` that the queue backends call as jobs move. Queue sizes are not pushed: the
 * gauges ask a stats source (`JobQueue.stats()`) at scrape time. `startMetricsServer()`
 * (`./server.ts`) serves the registry on /metrics.
 *
 * Every metric is named `<prefix><name>` (prefix `animefy_`); Node's default process metrics
 * (`process_*`, `nodejs_*`, event-loop lag included) keep their usual unprefixed names.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { errorText, isErrorCode, withTimeout, type ErrorCode } from '../errors.ts';
import { childLogger } from '../log.ts';
import type { JobOutcome, QueueObserver, WorkerRestartReason } from '../queue/observer.ts';
import { MEDIA_KINDS, type MediaKind, type QueueStats } from '../queue/types.ts';

export interface MetricsOptions {
  /** Prefix of every animefy metric (default `animefy_`). */
  prefix?: string;
  /** Also collect Node's default process metrics (CPU, memory, GC, event-loop lag). Default true. */
  defaultMetrics?: boolean;
  /** A stats source slower than this counts as failed for that scrape (default 2000 ms). */
  statsTimeoutMs?: number;
  /** Where the one warning about a failing stats source goes (default: the app logger). */
  warn?: (message: string, context: Record<string, unknown>) => void;
}

export interface Metrics {
  registry: Registry;
  /** Hand it to the queue / worker pool; never throws. */
  observer: QueueObserver;
  /** What the queued / running / workers gauges show; asked once per scrape. */
  setStatsSource(fn: () => Promise<QueueStats>): void;
}

/** Seconds: half-second pictures up to ten-minute videos. */
export const DURATION_BUCKETS = [0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600, 1200];
/** Seconds in line: nothing to a long backlog. */
export const WAIT_BUCKETS = [0.05, 0.25, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

const OUTCOMES: readonly JobOutcome[] = ['done', 'failed', 'cancelled'];
const RESTART_REASONS: readonly WorkerRestartReason[] = ['crash', 'timeout', 'oom', 'cancel'];
/** Refusals that happen in normal operation: present as 0 from the first scrape. */
const COMMON_REJECTIONS: readonly ErrorCode[] = ['QUEUE_FULL', 'USER_BUSY', 'QUEUE_UNAVAILABLE'];

/** Label values stay within known sets, so a bad caller cannot blow up the series count. */
function kindLabel(kind: MediaKind): MediaKind | 'unknown' {
  return MEDIA_KINDS.includes(kind) ? kind : 'unknown';
}

function codeLabel(code: ErrorCode | undefined): ErrorCode {
  return code !== undefined && isErrorCode(code) ? code : 'INTERNAL';
}

function seconds(value: number): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function defaultWarn(message: string, context: Record<string, unknown>): void {
  try {
    childLogger({ module: 'metrics' }).warn(context, message);
  } catch {
    // logging must never break a scrape
  }
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const prefix = options.prefix ?? 'animefy_';
  const statsTimeoutMs = options.statsTimeoutMs ?? 2000;
  const warn = options.warn ?? defaultWarn;
  const registry = new Registry();
  const registers = [registry];

  // --- Gauges, filled at scrape time ------------------------------------------------------------
  let source: (() => Promise<QueueStats>) | undefined;
  let inFlight: Promise<QueueStats | undefined> | undefined;
  let failing = false;

  /** One call to the source per scrape: the three gauges collect concurrently and share it. */
  function readStats(): Promise<QueueStats | undefined> {
    if (!source) return Promise.resolve(undefined);
    if (inFlight) return inFlight;
    const fn = source;
    inFlight = withTimeout(Promise.resolve().then(fn), statsTimeoutMs, 'the queue stats source')
      .then(
        (stats) => {
          failing = false;
          return stats;
        },
        (err: unknown) => {
          // Log once per outage, not on every scrape; the gauges keep their last values.
          if (!failing) {
            failing = true;
            warn('queue stats unavailable for metrics; gauges keep their last values', {
              err: errorText(err),
            });
          }
          return undefined;
        },
      )
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  }

  function statsGauge(name: string, help: string, pick: (stats: QueueStats) => number): Gauge {
    return new Gauge({
      name: prefix + name,
      help,
      registers,
      async collect() {
        const stats = await readStats();
        const value = stats ? pick(stats) : undefined;
        if (typeof value === 'number' && Number.isFinite(value)) this.set(value);
      },
    });
  }

  statsGauge('jobs_queued', 'Jobs waiting for a worker.', (s) => s.queued);
  statsGauge('jobs_running', 'Jobs a worker is running now.', (s) => s.running);
  statsGauge('workers', 'Worker processes alive (embedded queue) or workers seen on the queue (redis).', (s) => s.workers);

  // --- Counters and histograms, pushed by the observer -------------------------------------------
  const submitted = new Counter({
    name: `${prefix}jobs_submitted_total`,
    help: 'Jobs accepted into the queue, by media kind.',
    labelNames: ['kind'] as const,
    registers,
  });
  const rejected = new Counter({
    name: `${prefix}jobs_rejected_total`,
    help: 'Submits refused (QUEUE_FULL, USER_BUSY, QUEUE_UNAVAILABLE, …), by error code.',
    labelNames: ['code'] as const,
    registers,
  });
  const finished = new Counter({
    name: `${prefix}jobs_finished_total`,
    help: 'Jobs that ended, by media kind and outcome (done, failed, cancelled).',
    labelNames: ['kind', 'outcome'] as const,
    registers,
  });
  const failed = new Counter({
    name: `${prefix}jobs_failed_total`,
    help: 'Failed jobs by media kind and error code.',
    labelNames: ['kind', 'code'] as const,
    registers,
  });
  const restarts = new Counter({
    name: `${prefix}worker_restarts_total`,
    help: 'Worker processes replaced, by reason (crash, timeout, oom, cancel).',
    labelNames: ['reason'] as const,
    registers,
  });
  const duration = new Histogram({
    name: `${prefix}job_duration_seconds`,
    help: 'Run time of jobs that started (any outcome), from start to end, by media kind.',
    labelNames: ['kind'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const wait = new Histogram({
    name: `${prefix}job_wait_seconds`,
    help: 'Time jobs waited in line before a worker started them, by media kind.',
    labelNames: ['kind'] as const,
    buckets: WAIT_BUCKETS,
    registers,
  });

  // Series that always exist start at 0, so rate() and absent() work from the first scrape.
  for (const kind of MEDIA_KINDS) {
    submitted.inc({ kind }, 0);
    for (const outcome of OUTCOMES) finished.inc({ kind, outcome }, 0);
    duration.zero({ kind });
    wait.zero({ kind });
  }
  for (const code of COMMON_REJECTIONS) rejected.inc({ code }, 0);
  for (const reason of RESTART_REASONS) restarts.inc({ reason }, 0);

  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  /** Observer calls sit on the queue's hot paths: a metrics bug must never fail a job. */
  const safe =
    <A extends unknown[]>(fn: (...args: A) => void) =>
    (...args: A): void => {
      try {
        fn(...args);
      } catch (err) {
        warn('metrics observer failed', { err: errorText(err) });
      }
    };

  const observer: QueueObserver = {
    submitted: safe((kind: MediaKind) => {
      submitted.inc({ kind: kindLabel(kind) });
    }),
    rejected: safe((code: ErrorCode) => {
      rejected.inc({ code: codeLabel(code) });
    }),
    started: safe((kind: MediaKind, waitSeconds: number) => {
      const s = seconds(waitSeconds);
      if (s !== undefined) wait.observe({ kind: kindLabel(kind) }, s);
    }),
    finished: safe((kind: MediaKind, outcome: JobOutcome, code: ErrorCode | undefined, runSeconds: number) => {
      const k = kindLabel(kind);
      const o = OUTCOMES.includes(outcome) ? outcome : 'failed';
      finished.inc({ kind: k, outcome: o });
      if (o === 'failed') failed.inc({ kind: k, code: codeLabel(code) });
      // 0 means it never started (cancelled or expired while queued): no run time to record.
      const s = seconds(runSeconds);
      if (s !== undefined && s > 0) duration.observe({ kind: k }, s);
    }),
    workerRestarted: safe((reason: WorkerRestartReason) => {
      restarts.inc({ reason: RESTART_REASONS.includes(reason) ? reason : 'crash' });
    }),
  };

  return {
    registry,
    observer,
    setStatsSource(fn) {
      source = fn;
      failing = false;
    },
  };
}
