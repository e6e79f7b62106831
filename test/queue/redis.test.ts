/**
 * The Redis backend end to end, against a real redis-server (ANIMEFY_TEST_REDIS_URL; `.ci/run` starts
 * one) and real `npm run worker` processes running the real pipeline. Without the variable the suite
 * is skipped, with a note saying so.
 *
 * Each run uses fresh queue names (`animefy-test-<random>…`) and deletes its keys afterwards, so runs
 * never see each other's jobs. Locks are short (3 s) so a killed worker's job comes back quickly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, REPO_ROOT, type Config } from '#src/config.ts';
import { AnimefyError } from '#src/errors.ts';
import type { ProgressEvent } from '#src/pipeline/progress.ts';
import { fairPriority } from '#src/queue/redis/admit.ts';
import { RedisQueue } from '#src/queue/redis/queue.ts';
import type { JobHandle, JobRequest, JobResult } from '#src/queue/types.ts';
import { rejection } from '../helpers/errors.ts';
import { fixture, sharedAnimefier } from '../helpers/fixtures.ts';

const url = process.env.ANIMEFY_TEST_REDIS_URL;
if (!url) console.warn('redis tests skipped: set ANIMEFY_TEST_REDIS_URL (CI starts redis-server)');

const BASE = `animefy-test-${randomUUID().slice(0, 8)}`;
const OPTIONS = { style: 'hayao', mode: 'full', upscale: 1, quality: 'fast', format: 'png' } as const;
const FIXTURE = 'portrait_frontal_1.jpg'; // 512×512: about 1.5 s of pipeline

function testConfig(queue: string, overrides: Record<string, string> = {}): Config {
  return parseConfig({
    ...process.env,
    ANIMEFY_REDIS_URL: url,
    ANIMEFY_REDIS_QUEUE: queue,
    ANIMEFY_REDIS_LOCK_S: '3',
    ANIMEFY_REDIS_BACKOFF_S: '0.2',
    ...overrides,
  });
}

function request(input: Buffer, userId: string, priority?: number): JobRequest {
  return { input, kind: 'image', options: { ...OPTIONS }, requester: { platform: 'test', userId }, priority };
}

/** Resolves when `check` holds, polling; fails with `what` after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The first `event` from a handle after now; fails after `ms` (so one broken step cannot hang the file). */
function nextEvent(handle: JobHandle, event: 'progress' | 'running', ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} event within ${ms} ms`)), ms);
    handle.on(event, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<AnimefyError> {
  const err = await rejection(promise);
  expect(err.code).toBe(code);
  return err;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Pids of a process's direct children (Linux /proc). */
function childPids(pid: number): number[] {
  try {
    const text = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    if (text) return text.split(/\s+/).map(Number);
  } catch {
    // fall back to scanning /proc
  }
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Alive and not a zombie waiting to be reaped. */
function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** `npm run worker` as a real OS process (tsx, as package.json runs it). */
class WorkerProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  output = '';

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ['--import', 'tsx', 'src/app/worker.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.ready = new Promise((resolve, reject) => {
      const onData = () => {
        if (this.output.includes('"msg":"worker ready"')) {
          this.child.stderr!.off('data', onData);
          resolve();
        }
      };
      this.child.stderr!.on('data', onData);
      void this.exited.then((code) => reject(new Error(`worker exited (${code}) before it was ready:\n${this.output}`)));
    });
    this.ready.catch(() => {});
  }

  get pid(): number {
    return this.child.pid!;
  }

  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

describe.skipIf(!url)('redis queue backend (real redis-server, real worker processes)', () => {
  const queueName = `${BASE}-jobs`;
  const config = testConfig(queueName);
  const input = fixture(FIXTURE);
  const workers: WorkerProcess[] = [];
  const queues: RedisQueue[] = [];
  let redis: Redis;
  let inspect: Queue;
  let metricsPort: number;
  /** What the pipeline makes of the fixture in this process: the reference for worker results. */
  let direct: Buffer;

  function startWorker(extra: Record<string, string> = {}): WorkerProcess {
    const worker = new WorkerProcess({
      ANIMEFY_REDIS_URL: url!,
      ANIMEFY_REDIS_QUEUE: queueName,
      ANIMEFY_REDIS_LOCK_S: '3',
      ANIMEFY_CONCURRENCY: '1',
      LOG_LEVEL: 'info',
      ANIMEFY_METRICS_PORT: '',
      ...extra,
    });
    workers.push(worker);
    return worker;
  }

  async function connect(cfg: Config = config): Promise<RedisQueue> {
    const queue = await RedisQueue.connect(cfg);
    queues.push(queue);
    return queue;
  }

  async function keys(pattern: string): Promise<string[]> {
    return redis.keys(pattern);
  }

  function expectMatchesDirect(result: JobResult): void {
    expect(result.mime).toBe('image/png');
    expect([result.width, result.height]).toEqual([512, 512]);
    // Same models, settings and input: the worker process's bytes are the pipeline's, exactly.
    expect(result.data.equals(direct), 'worker result differs from the pipeline run in the test process').toBe(true);
  }

  beforeAll(async () => {
    redis = new Redis(url!);
    inspect = new Queue(queueName, { connection: { url: url! } });
    metricsPort = await freePort();
    // Computed up front: the pipeline's synchronous stages would stall this process's event loop
    // (and the submit timings measured here) if it ran during the tests.
    direct = (await sharedAnimefier().animefy(input, { ...OPTIONS })).data;
  });

  afterEach((context) => {
    if (context.task.result?.state !== 'fail') return;
    for (const w of workers) console.error(`--- worker ${w.pid} output (tail) ---\n${w.output.slice(-4000)}`);
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await Promise.allSettled(queues.map((q) => q.close({ cancelRunning: true })));
    await inspect?.close();
    if (redis) {
      const leftovers = await redis.keys(`*${BASE}*`);
      if (leftovers.length > 0) await redis.del(...leftovers);
      redis.disconnect();
    }
  });

  it('runs a job submitted while no worker runs once a worker process starts: progress, a result equal to the pipeline, blobs removed', async () => {
    const queue = await connect();
    const submittedAt = performance.now();
    const handle = await queue.submit(request(input, 'alice'));
    expect(performance.now() - submittedAt).toBeLessThan(300);
    const events: string[] = [];
    const progress: ProgressEvent[] = [];
    handle.on('position', (p) => events.push(`position:${p}`));
    handle.on('running', () => events.push('running'));
    handle.on('progress', (e) => progress.push(e));

    // Nobody takes it: it waits, first in line, with its input in Redis.
    await until(() => events.length > 0, 3000, 'a position event');
    expect(events).toEqual(['position:1']);
    expect(handle.position).toBe(1);
    expect(await redis.exists(`${queueName}:blob:${handle.id}:in`)).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(handle.state).toBe('queued');

    // A second job whose input blob is gone by the time it runs (as after ANIMEFY_REDIS_BLOB_TTL_S).
    const expired = await queue.submit(request(input, 'zed'));
    await until(() => expired.position === 2, 3000, 'position 2');
    expect(await redis.del(`${queueName}:blob:${expired.id}:in`)).toBe(1);

    const worker = startWorker({ ANIMEFY_METRICS_PORT: String(metricsPort) });
    await worker.ready;
    const result = await handle.result;
    expect(handle.state).toBe('done');
    expect(events).toEqual(['position:1', 'running']);

    // Progress came through Redis from the worker process: several stages, in order.
    expect(progress.length).toBeGreaterThanOrEqual(4);
    const stages = progress.map((e) => e.stage);
    expect(stages[0]).toBe('decode');
    expect(stages).toContain('stylize');
    expect(stages).toContain('encode');
    for (let i = 1; i < progress.length; i++) expect(progress[i].percent).toBeGreaterThanOrEqual(progress[i - 1].percent);

    expect(result).toMatchObject({ kind: 'image', format: 'png', style: 'hayao', mode: 'full' });
    const lost = await expectCode(expired.result, 'MEDIA_EXPIRED');
    expect(lost.message).toContain('send it again');
    expect(expired.state).toBe('failed');
    expect(result.faces).toBeGreaterThanOrEqual(1);
    expect(result.timings.total).toBeGreaterThan(0);
    expectMatchesDirect(result);

    // Nothing of the job's media stays in Redis, nor in the per-user bookkeeping.
    await until(async () => (await keys(`${queueName}:blob:*`)).length === 0, 3000, 'blobs to be deleted');
    expect(await redis.zcard(`${queueName}:user:test:alice`)).toBe(0);

    // The worker's metrics endpoint saw it too.
    const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', queue: queueName, concurrency: 1 });
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/animefy_jobs_finished_total\{kind="image",outcome="done"\} 1\b/);
  });

  it('cancels a queued job (it never runs) and a running one (the worker stops it and serves the next job)', async () => {
    const queue = await connect();
    const running = await queue.submit(request(input, 'bob'));
    expect(workers).toHaveLength(1);
    await nextEvent(running, 'progress', 30_000);
    expect(running.state).toBe('running');

    const queued = await queue.submit(request(input, 'carol'));
    const queuedEvents: string[] = [];
    queued.on('running', () => queuedEvents.push('running'));
    queued.on('progress', () => queuedEvents.push('progress'));
    queued.on('cancelled', () => queuedEvents.push('cancelled'));
    await until(() => queued.position === 1, 3000, 'position 1 behind the running job');

    expect(await queued.cancel()).toBe(true);
    expect(queued.state).toBe('cancelled');
    await expectCode(queued.result, 'CANCELLED');
    expect(await redis.exists(`bull:${queueName}:${queued.id}`)).toBe(0); // gone from BullMQ
    expect(await queued.cancel()).toBe(false);

    const cancelledAt = Date.now();
    expect(await running.cancel()).toBe(true);
    expect(running.state).toBe('cancelled');
    await expectCode(running.result, 'CANCELLED');
    // The worker aborted it (it did not run to the end): the job failed for good with CANCELLED.
    await until(async () => (await inspect.getJobState(running.id)) === 'failed', 10_000, 'the worker to stop the job');
    const job = await inspect.getJob(running.id);
    expect(AnimefyError.fromJSON(JSON.parse(job!.failedReason)).code).toBe('CANCELLED');
    expect(job!.returnvalue).toBeFalsy();
    expect(job!.attemptsMade).toBe(1); // not retried
    expect(Date.now() - cancelledAt).toBeLessThan(8000);

    const next = await queue.submit(request(input, 'bob'));
    expectMatchesDirect(await next.result);
    expect(queuedEvents).toEqual(['cancelled']);
    await until(async () => (await keys(`${queueName}:blob:*`)).length === 0, 3000, 'blobs to be deleted');
  });

  it('fails bad input at once with its own error, without retrying it', async () => {
    const queue = await connect();
    const handle = await queue.submit(request(Buffer.from('this is not a picture'), 'erin'));
    const failed: AnimefyError[] = [];
    handle.on('failed', (e) => failed.push(e));
    await expectCode(handle.result, 'NOT_AN_IMAGE');
    expect(failed.map((e) => e.code)).toEqual(['NOT_AN_IMAGE']);
    const job = await inspect.getJob(handle.id);
    expect(job!.attemptsStarted).toBe(1); // ANIMEFY_REDIS_ATTEMPTS is 3, but bad input is never retried
    await until(async () => (await keys(`${queueName}:blob:*`)).length === 0, 3000, 'blobs to be deleted');
  });

  it('retries a job whose pipeline process crashed (WORKER_CRASHED is transient) on the same worker', async () => {
    const queue = await connect();
    const [first] = workers;
    const handle = await queue.submit(request(input, 'dan'));
    await nextEvent(handle, 'progress', 30_000);
    const poolChildren = childPids(first.pid);
    expect(poolChildren).toHaveLength(1);
    process.kill(poolChildren[0], 'SIGKILL');

    expectMatchesDirect(await handle.result);
    const job = await inspect.getJob(handle.id);
    expect(job!.attemptsStarted).toBe(2);
    expect(job!.stalledCounter).toBe(0); // the worker itself stayed up and reported the crash
    expect(first.child.exitCode).toBeNull();
  });

  it('finishes a job whose worker process was SIGKILLed mid-job on a new worker; SIGTERM lets a running job finish', async () => {
    const queue = await connect();
    const [first] = workers;
    const handle = await queue.submit(request(input, 'dave'));
    expect(first?.child.exitCode).toBeNull();
    await nextEvent(handle, 'progress', 30_000);
    const poolChildren = childPids(first.pid);
    expect(poolChildren.length).toBeGreaterThanOrEqual(1);

    first.child.kill('SIGKILL');
    await first.exited;
    // Its pipeline process goes with it (its IPC channel closed), leaving no orphan behind.
    await until(() => poolChildren.every((pid) => !isAlive(pid)), 5000, 'the pool process to exit');
    expect(handle.state).toBe('running');

    const second = startWorker();
    await second.ready;
    const result = await handle.result;
    expectMatchesDirect(result);
    const job = await inspect.getJob(handle.id);
    expect(job!.stalledCounter).toBeGreaterThanOrEqual(1); // came back through BullMQ's stalled check
    await until(async () => (await keys(`${queueName}:blob:*`)).length === 0, 3000, 'blobs to be deleted');

    // SIGTERM mid-job: the worker takes no new job, finishes this one, then exits 0.
    const last = await queue.submit(request(input, 'dave'));
    await nextEvent(last, 'progress', 30_000);
    second.child.kill('SIGTERM');
    expectMatchesDirect(await last.result);
    expect(await second.exited).toBe(0);
  });

  it('answers USER_BUSY and QUEUE_FULL from state in Redis that every bot process shares', async () => {
    const cfg = testConfig(`${BASE}-caps`, { ANIMEFY_MAX_JOBS_PER_USER: '1', ANIMEFY_MAX_QUEUED: '3' });
    const [botA, botB] = await Promise.all([connect(cfg), connect(cfg)]);
    const small = fixture('portrait_glasses_1.jpg');

    const first = await botA.submit(request(small, 'erin'));
    const busy = await expectCode(botB.submit(request(small, 'erin')), 'USER_BUSY');
    expect(busy.params).toEqual({ limit: 1 });
    expect(busy.message).toContain('1 files');

    await botB.submit(request(small, 'frank'));
    await botA.submit(request(small, 'grace'));
    const full = await expectCode(botB.submit(request(small, 'heidi')), 'QUEUE_FULL');
    expect(full.params).toEqual({ queued: 3 });
    expect(await botA.stats()).toMatchObject({ backend: 'redis', queued: 3, running: 0, workers: 0 });

    // A refused submit leaves nothing behind; a cancel frees the user's place at once.
    expect(await keys(`${BASE}-caps:blob:*`)).toHaveLength(3);
    await first.cancel();
    await botB.submit(request(small, 'erin'));

    await Promise.all([botA.close({ cancelRunning: true }), botB.close({ cancelRunning: true })]);
    expect(await botA.stats().catch((e: unknown) => e)).toBeInstanceOf(AnimefyError);
    await until(async () => (await keys(`${BASE}-caps:blob:*`)).length === 0, 3000, 'blobs to be deleted');
    expect(await redis.llen(`bull:${BASE}-caps:wait`) + (await redis.zcard(`bull:${BASE}-caps:prioritized`))).toBe(0);
  });

  it('runs a GIF job: frame-by-frame progress and the media details come through Redis', async () => {
    const queue = await connect();
    const worker = startWorker();
    await worker.ready;
    const handle = await queue.submit({
      input: fixture('face_clip.gif'),
      kind: 'gif',
      options: { ...OPTIONS, format: 'mp4' },
      requester: { platform: 'test', userId: 'gif-user' },
    });
    const frames: ProgressEvent[] = [];
    handle.on('progress', (e) => {
      if (e.stage === 'frames') frames.push(e);
    });
    const result = await handle.result;
    expect([result.kind, result.mime]).toEqual(['gif', 'video/mp4']);
    expect(result.media).toMatchObject({ frames: 30, hasAudio: false });
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.every((e) => e.frames === 30 && typeof e.frame === 'number' && e.frame <= 30)).toBe(true);
    expect(await worker.stop('SIGTERM')).toBe(0);
  });

  it('orders jobs fairly: every user’s first job before anyone’s second, higher request priority first', async () => {
    expect(fairPriority(0)).toBeLessThan(fairPriority(1));
    expect(fairPriority(5, 1)).toBeLessThan(fairPriority(0, 0));
    expect(fairPriority(999, -512)).toBeLessThan(2 ** 21);

    const cfg = testConfig(`${BASE}-fair`, { ANIMEFY_MAX_JOBS_PER_USER: '3' });
    const bot = await connect(cfg);
    const small = fixture('portrait_glasses_1.jpg');
    const handles: Record<string, JobHandle> = {};
    for (const [name, user, priority] of [
      ['ivan1', 'ivan', 0],
      ['ivan2', 'ivan', 0],
      ['ivan3', 'ivan', 0],
      ['judy1', 'judy', 0],
      ['ken1', 'ken', 0],
      ['judy2', 'judy', 0],
      ['vip1', 'vip', 1],
    ] as const) {
      handles[name] = await bot.submit(request(small, user, priority));
    }
    const expected = { vip1: 1, ivan1: 2, judy1: 3, ken1: 4, ivan2: 5, judy2: 6, ivan3: 7 };
    const positions = () => Object.fromEntries(Object.entries(handles).map(([name, h]) => [name, h.position]));
    await until(() => JSON.stringify(positions()) === JSON.stringify({ ...positions(), ...expected }), 3000, 'positions').catch(
      (err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(positions())}`);
      },
    );
    expect(positions()).toEqual(expected);

    // A job leaving the line moves everyone behind it up.
    await handles.ivan1.cancel();
    await until(() => handles.ivan3.position === 6, 3000, 'positions after a cancel');
    expect(handles.vip1.position).toBe(1);
    expect(handles.judy1.position).toBe(2);

    await bot.close({ cancelRunning: true });
    expect(Object.values(handles).map((h) => h.state)).toEqual(Array(7).fill('cancelled'));
  });
});

describe('redis backend without a reachable Redis', () => {
  it('RedisQueue.connect answers QUEUE_UNAVAILABLE at once when nothing listens', async () => {
    const port = await freePort(); // free: nothing listens there
    const started = performance.now();
    await expectCode(RedisQueue.connect(testConfig(`${BASE}-down`, { ANIMEFY_REDIS_URL: `redis://127.0.0.1:${port}` })), 'QUEUE_UNAVAILABLE');
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('npm run worker exits 2 with a message naming ANIMEFY_REDIS_URL when it is not set', async () => {
    const worker = new WorkerProcess({ ANIMEFY_REDIS_URL: '' });
    expect(await worker.exited).toBe(2);
    expect(worker.output).toContain('ANIMEFY_REDIS_URL is not set');
  });
});
