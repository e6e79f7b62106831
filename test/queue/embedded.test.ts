/**
 * The embedded queue with real worker processes and real models: concurrency, caps, fairness,
 * positions, cancel, and isolation (a killed worker, a timeout, a memory limit).
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedQueue, type EmbeddedQueueOptions } from '#src/queue/embedded.ts';
import type { JobHandle, JobRequest } from '#src/queue/types.ts';
import { WorkerPool, workerPoolOptions, type WorkerPoolOptions } from '#src/queue/worker-pool.ts';
import { rejection } from '../helpers/errors.ts';
import { mbToBytes } from '#src/config.ts';
import { config, fixture } from '../helpers/fixtures.ts';

let photo: Buffer; // a small real portrait: about half a second per job
let bigPhoto: Buffer;
const queues: EmbeddedQueue[] = [];

beforeAll(async () => {
  photo = await sharp(fixture('portrait_frontal_1.jpg')).resize(256, 256).jpeg().toBuffer();
  bigPhoto = fixture('group_6faces.jpg');
});
afterAll(async () => {
  await Promise.all(queues.map((q) => q.close({ cancelRunning: true })));
});

function makeQueue(options: Omit<Partial<EmbeddedQueueOptions>, 'pool'> & { pool?: Partial<WorkerPoolOptions> } = {}): EmbeddedQueue {
  const concurrency = options.concurrency ?? 1;
  const pool = new WorkerPool({ ...workerPoolOptions(config), size: concurrency, ...options.pool });
  const queue = new EmbeddedQueue({
    concurrency,
    maxQueued: 100,
    maxPerUser: 10,
    maxInputBytes: mbToBytes(config.ANIMEFY_MAX_INPUT_MB),
    ...options,
    pool,
  });
  queues.push(queue);
  return queue;
}

function job(user: string, input: Buffer = photo, extra: Partial<JobRequest> = {}): JobRequest {
  return {
    input,
    kind: 'image',
    options: { style: 'hayao', mode: 'full', upscale: 1, quality: 'fast' },
    requester: { platform: 'test', userId: user },
    ...extra,
  };
}

function settled(handle: JobHandle): Promise<unknown> {
  return handle.result.catch(() => undefined);
}

function firstProgress(handle: JobHandle): Promise<void> {
  return new Promise((resolve) => handle.on('progress', () => resolve()));
}

describe('embedded queue', () => {
  const queue = () => shared;
  let shared: EmbeddedQueue;
  beforeAll(() => {
    shared = makeQueue({ maxPerUser: 2 });
  });

  it('runs a job in a worker process and reports progress, then a valid picture of the input size', async () => {
    const handle = await queue().submit(job('alice'));
    const stages: string[] = [];
    let last = 0;
    let monotonic = true;
    handle.on('progress', (e) => {
      stages.push(e.stage);
      if (e.percent < last) monotonic = false;
      last = e.percent;
    });
    const result = await handle.result;
    expect(handle.state).toBe('done');
    expect(stages).toContain('stylize');
    expect(stages.at(-1)).toBe('encode');
    expect(monotonic).toBe(true);
    expect(last).toBe(100);
    expect(result.mime).toBe('image/jpeg');
    const meta = await sharp(result.data).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 256, 256]);
    expect(result.faces).toBe(1);
    expect(queue().pool.pids()).toHaveLength(1);
    expect(queue().pool.pids()[0]).not.toBe(process.pid);
  });

  it('refuses requests that can never succeed at submit time', async () => {
    expect((await rejection(queue().submit(job('alice', Buffer.alloc(0))))).code).toBe('EMPTY_INPUT');
    const unknownStyle = job('alice', photo, { options: { style: 'nope', mode: 'full', upscale: 1, quality: 'fast' } });
    expect((await rejection(queue().submit(unknownStyle))).code).toBe('UNKNOWN_STYLE');
    const small = new EmbeddedQueue({ pool: queue().pool, concurrency: 1, maxQueued: 10, maxPerUser: 10, maxInputBytes: 1000 });
    expect((await rejection(small.submit(job('alice')))).code).toBe('INPUT_TOO_LARGE');
  });

  it('caps jobs per user with USER_BUSY, while other users are still served', async () => {
    const a1 = await queue().submit(job('carol'));
    const a2 = await queue().submit(job('carol'));
    const err = await rejection(queue().submit(job('carol')));
    expect(err.code).toBe('USER_BUSY');
    expect(err.params.limit).toBe(2);
    expect(err.message).toMatch(/2 files/);
    const other = await queue().submit(job('dave'));
    await Promise.all([a1.result, a2.result, other.result]);
    // Once finished, the user may submit again.
    const again = await queue().submit(job('carol'));
    await again.result;
  });

  it('fails a corrupt file with a typed error and keeps serving', async () => {
    const bad = await queue().submit(job('erin', Buffer.from('this is not an image at all')));
    const err = await rejection(bad.result);
    expect(['NOT_AN_IMAGE', 'CORRUPT_IMAGE']).toContain(err.code);
    expect(bad.state).toBe('failed');
    const good = await queue().submit(job('erin'));
    expect((await good.result).width).toBe(256);
  });

  it('cancels a queued job (it never runs) and moves the jobs behind it up', async () => {
    const running = await queue().submit(job('frank'));
    const doomed = await queue().submit(job('gina'));
    const behind = await queue().submit(job('hank'));
    const positions: number[] = [];
    behind.on('position', (p) => positions.push(p));
    expect(doomed.position).toBe(1);
    expect(behind.position).toBe(2);
    let ran = false;
    doomed.on('running', () => (ran = true));
    expect(await doomed.cancel()).toBe(true);
    expect(doomed.state).toBe('cancelled');
    expect((await rejection(doomed.result)).code).toBe('CANCELLED');
    expect(behind.position).toBe(1);
    await Promise.all([running.result, behind.result]);
    expect(positions).toEqual([2, 1]);
    expect(ran).toBe(false);
    expect(await doomed.cancel()).toBe(false);
  });

  it('cancels a running job, and the next job succeeds', async () => {
    const handle = await queue().submit(job('ivan', bigPhoto));
    await firstProgress(handle);
    const cancelled = new Promise<void>((resolve) => handle.on('cancelled', resolve));
    expect(await handle.cancel()).toBe(true);
    await cancelled;
    expect((await rejection(handle.result)).code).toBe('CANCELLED');
    const next = await queue().submit(job('ivan'));
    expect((await next.result).width).toBe(256);
  });

  it('fails only the job whose worker process is killed; the worker is replaced and the next job runs', async () => {
    const handle = await queue().submit(job('judy', bigPhoto));
    const next = await queue().submit(job('kate'));
    await firstProgress(handle);
    const [pid] = queue().pool.pids();
    process.kill(pid, 'SIGKILL');
    const err = await rejection(handle.result);
    expect(err.code).toBe('WORKER_CRASHED');
    expect(err.message).toMatch(/try again/i);
    const result = await next.result;
    expect(result.width).toBe(256);
    expect(queue().pool.pids()).toHaveLength(1);
    expect(queue().pool.pids()[0]).not.toBe(pid);
  });

  it('is fair: one user with many jobs alternates with another user, and positions count down', async () => {
    const q = makeQueue({ maxPerUser: 10 });
    const order: string[] = [];
    const track = (h: JobHandle, name: string) => {
      h.on('running', () => order.push(name));
      return h;
    };
    const blocker = track(await q.submit(job('zed')), 'Z');
    const a = [];
    const countdown: number[] = [];
    for (let i = 1; i <= 4; i++) a.push(track(await q.submit(job('amy')), `A${i}`));
    a[3].on('position', (p) => countdown.push(p));
    const b = [];
    for (let i = 1; i <= 2; i++) b.push(track(await q.submit(job('bob')), `B${i}`));
    // Positions as promised at submit time match the order jobs then run in.
    expect([a[0].position, b[0].position, a[1].position, b[1].position, a[2].position, a[3].position]).toEqual([1, 2, 3, 4, 5, 6]);
    await Promise.all([blocker, ...a, ...b].map((h) => h.result));
    expect(order).toEqual(['Z', 'A1', 'B1', 'A2', 'B2', 'A3', 'A4']);
    // A4 was 4th in line; Bob's two jobs were then placed ahead of it (fairness), then it counted down.
    expect(countdown).toEqual([4, 5, 6, 5, 4, 3, 2, 1]);
  });

  it('gives higher-priority jobs precedence', async () => {
    const q = makeQueue({ maxPerUser: 10 });
    const order: string[] = [];
    const blocker = await q.submit(job('zed'));
    const low = await q.submit(job('lou'));
    const high = await q.submit(job('hal', photo, { priority: 5 }));
    low.on('running', () => order.push('low'));
    high.on('running', () => order.push('high'));
    expect(high.position).toBe(1);
    await Promise.all([blocker.result, low.result, high.result]);
    expect(order).toEqual(['high', 'low']);
  });

  it('answers QUEUE_FULL past the bound on waiting jobs', async () => {
    const q = makeQueue({ maxQueued: 2 });
    const handles = [await q.submit(job('u1')), await q.submit(job('u2')), await q.submit(job('u3'))];
    const err = await rejection(q.submit(job('u4')));
    expect(err.code).toBe('QUEUE_FULL');
    expect(err.message).toMatch(/busy/i);
    expect(await q.stats()).toMatchObject({ backend: 'embedded', queued: 2, running: 1 });
    await Promise.all(handles.map((h) => h.cancel()));
    await Promise.all(handles.map(settled));
  });

  it('never runs more than its concurrency at once', async () => {
    const q = makeQueue({ concurrency: 2 });
    let running = 0;
    let peak = 0;
    const handles = [];
    for (let i = 0; i < 5; i++) {
      const h = await q.submit(job(`user${i}`));
      h.on('running', () => (peak = Math.max(peak, ++running)));
      void settled(h).then(() => running--);
      handles.push(h);
    }
    const results = await Promise.all(handles.map((h) => h.result));
    expect(results.every((r) => r.width === 256)).toBe(true);
    expect(peak).toBe(2);
    expect(q.pool.pids()).toHaveLength(2);
  });

  it('stops a job that runs past its timeout and replaces the worker', async () => {
    const q = makeQueue({ pool: { timeoutsMs: { image: 1500, gif: 1500, video: 1500 } } });
    const handle = await q.submit(job('tim', bigPhoto));
    const started = performance.now();
    await new Promise<void>((resolve) => handle.on('running', () => resolve()));
    const err = await rejection(handle.result);
    expect(err.code).toBe('JOB_TIMEOUT');
    expect(err.message).toMatch(/too long/);
    expect(performance.now() - started).toBeLessThan(5000);
    await expect.poll(() => q.pool.pids().length).toBe(1);
  });

  it('stops a worker that grows past its memory limit with OUT_OF_MEMORY', async () => {
    const q = makeQueue({ pool: { maxRssBytes: 200 * 2 ** 20 } });
    const handle = await q.submit(job('mem', bigPhoto));
    const err = await rejection(handle.result);
    expect(err.code).toBe('OUT_OF_MEMORY');
  });
});
