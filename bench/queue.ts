/**
 * Queue benchmark (real worker processes, real models): 50 jobs from 10 users submitted at once, on
 * the embedded backend and — when a Redis is configured (ANIMEFY_REDIS_URL or ANIMEFY_TEST_REDIS_URL)
 * — through BullMQ. Reports the time to acknowledge each submit (target p99 < 300 ms), the largest
 * event-loop delay in this process — the bot's — while the jobs run (target < 50 ms), throughput,
 * per-job latency, and peak memory of this process and of the worker processes.
 *
 * For contrast it also runs a few jobs the old way, in this process, and reports the event-loop delay
 * that caused: the reason the pipeline lives in worker processes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Queue } from 'bullmq';
import sharp from 'sharp';
import { getConfig, parseConfig, type Config, mbToBytes } from '#src/config.ts';
import { ImagePipeline } from '#src/pipeline/image-pipeline.ts';
import { EmbeddedQueue } from '#src/queue/embedded.ts';
import { RedisQueue } from '#src/queue/redis/queue.ts';
import { RedisWorker } from '#src/queue/redis/worker.ts';
import type { JobHandle, JobQueue, JobRequest } from '#src/queue/types.ts';
import { processMemory, WorkerPool } from '#src/queue/worker-pool.ts';
import { median, percentile, printTable, type BenchSection } from './report.ts';

const FIXTURES = ['portrait_frontal_1.jpg', 'portrait_glasses_1.jpg', 'portrait_3quarter_1.jpg', 'group_3faces.jpg', 'street_1.jpg'];
const ACK_TARGET_MS = 300;
const LOOP_TARGET_MS = 50;

export async function benchQueue(options: { quick: boolean }): Promise<BenchSection> {
  const config = getConfig();
  const users = options.quick ? 4 : 10;
  const perUser = options.quick ? 2 : 5;
  const inputs = await Promise.all(
    FIXTURES.map(async (name) => {
      const bytes = fs.readFileSync(path.join(config.ANIMEFY_FIXTURES_DIR, name));
      return sharp(bytes).resize(512, 512, { fit: 'inside' }).jpeg({ quality: 90 }).toBuffer();
    }),
  );
  const results: Record<string, unknown>[] = [];
  const rows: Record<string, unknown>[] = [];

  // Each user may have all of their jobs in line at once here (the default cap is 2).
  const limits = { ANIMEFY_MAX_QUEUED: String(users * perUser), ANIMEFY_MAX_JOBS_PER_USER: String(perUser) };
  const embedded = await runLoad(await startEmbedded(parseConfig({ ...process.env, ...limits, ANIMEFY_REDIS_URL: '' })), inputs, users, perUser);
  results.push(embedded);
  rows.push(...tableRows(embedded));

  // The same load through BullMQ when a Redis is at hand (a worker in this process, its pipeline in
  // worker processes as always).
  const redisUrl = config.ANIMEFY_REDIS_URL ?? process.env.ANIMEFY_TEST_REDIS_URL;
  if (redisUrl) {
    const queueName = `animefy-bench-${Date.now()}`;
    const redisConfig = parseConfig({ ...process.env, ...limits, ANIMEFY_REDIS_URL: redisUrl, ANIMEFY_REDIS_QUEUE: queueName });
    const redis = await runLoad(await startRedis(redisConfig), inputs, users, perUser);
    results.push(redis);
    rows.push(...tableRows(redis));
  } else {
    process.stderr.write('bench: queue over Redis skipped (set ANIMEFY_REDIS_URL or ANIMEFY_TEST_REDIS_URL)\n');
  }

  const inProcess = await inProcessLoopDelay(config, inputs[0], options.quick ? 2 : 3);
  rows.push({ backend: '-', measure: 'event-loop delay max if run in-process (ms)', value: inProcess, target: '(why workers)' });
  printTable(`queue: ${users * perUser} jobs from ${users} users submitted at once`, rows);
  return {
    name: 'queue',
    results: results.map((r) => ({ ...r, inProcessLoopDelayMaxMs: inProcess })),
    peakRssMb: Math.max(...results.map((r) => Number(r.botPeakRssMb))),
  };
}

interface LoadTarget {
  backend: string;
  queue: JobQueue;
  /** Worker processes that ran the pipeline (for their peak memory). */
  pids(): number[];
  close(): Promise<void>;
}

async function startEmbedded(config: Config): Promise<LoadTarget> {
  const pool = WorkerPool.fromConfig(config);
  const queue = new EmbeddedQueue({
    pool,
    concurrency: config.ANIMEFY_CONCURRENCY,
    maxQueued: config.ANIMEFY_MAX_QUEUED,
    maxPerUser: config.ANIMEFY_MAX_JOBS_PER_USER,
    maxInputBytes: mbToBytes(config.ANIMEFY_MAX_INPUT_MB),
  });
  await pool.warmUp();
  return { backend: 'embedded', queue, pids: () => pool.pids(), close: () => queue.close() };
}

async function startRedis(config: Config): Promise<LoadTarget> {
  const pool = WorkerPool.fromConfig(config);
  await pool.warmUp();
  const worker = await RedisWorker.start(config, { pool });
  const queue = await RedisQueue.connect(config);
  return {
    backend: 'redis',
    queue,
    pids: () => pool.pids(),
    async close() {
      await queue.close();
      await worker.close();
      await pool.close();
      // The bench's own queue: leave nothing behind in Redis.
      const admin = new Queue(config.ANIMEFY_REDIS_QUEUE, { connection: { url: config.ANIMEFY_REDIS_URL } });
      await admin.obliterate({ force: true });
      await admin.close();
    },
  };
}

async function runLoad(target: LoadTarget, inputs: Buffer[], users: number, perUser: number): Promise<Record<string, unknown>> {
  const { queue } = target;
  await (await queue.submit(request(inputs[0], 'warmup'))).result; // models loaded in the worker

  const loop = monitorEventLoopDelay({ resolution: 5 });
  const rss = sampleRss();
  loop.enable();
  const started = performance.now();
  const acks: number[] = [];
  const submissions: Promise<JobHandle>[] = [];
  for (let j = 0; j < perUser; j++) {
    for (let u = 0; u < users; u++) {
      const t = performance.now();
      submissions.push(
        queue.submit(request(inputs[(u + j) % inputs.length], `user${u}`)).then((handle) => {
          acks.push(performance.now() - t);
          return handle;
        }),
      );
    }
  }
  const handles = await Promise.all(submissions);
  const latencies = await Promise.all(
    handles.map((h) =>
      h.result.then(
        () => performance.now() - started,
        () => NaN,
      ),
    ),
  );
  const elapsed = performance.now() - started;
  loop.disable();
  const botPeakRssMb = rss.stop();
  const workerPeakRssMb = Math.round(target.pids().reduce((sum, pid) => sum + processMemory(pid).peak, 0) / 2 ** 20);
  await target.close();

  const jobs = users * perUser;
  return {
    backend: target.backend,
    jobs,
    users,
    concurrency: getConfig().ANIMEFY_CONCURRENCY,
    failed: latencies.filter((l) => Number.isNaN(l)).length,
    ackP50Ms: round(median(acks), 1),
    ackP99Ms: round(percentile(acks, 99), 1),
    ackTargetMs: ACK_TARGET_MS,
    loopDelayMaxMs: round(loop.max / 1e6),
    loopDelayP99Ms: round(loop.percentile(99) / 1e6),
    loopTargetMs: LOOP_TARGET_MS,
    throughputPerMin: round((jobs / elapsed) * 60_000),
    secondsPerJob: round(elapsed / jobs / 1000, 2),
    latencyP50S: round(median(latencies) / 1000, 1),
    latencyMaxS: round(Math.max(...latencies) / 1000, 1),
    botPeakRssMb,
    workerPeakRssMb,
  };
}

function tableRows(r: Record<string, unknown>): Record<string, unknown>[] {
  const b = r.backend;
  return [
    { backend: b, measure: 'submit acknowledged p50 / p99 (ms)', value: `${r.ackP50Ms} / ${r.ackP99Ms}`, target: `p99 < ${ACK_TARGET_MS}` },
    { backend: b, measure: 'bot event-loop delay max / p99 (ms)', value: `${r.loopDelayMaxMs} / ${r.loopDelayP99Ms}`, target: `max < ${LOOP_TARGET_MS}` },
    { backend: b, measure: 'throughput (jobs/min)', value: r.throughputPerMin, target: '' },
    { backend: b, measure: 'job latency p50 / max (s)', value: `${r.latencyP50S} / ${r.latencyMaxS}`, target: '' },
    { backend: b, measure: 'peak RSS bot / workers (MB)', value: `${r.botPeakRssMb} / ${r.workerPeakRssMb}`, target: '' },
    { backend: b, measure: 'failed jobs', value: r.failed, target: '0' },
  ];
}

function request(input: Buffer, user: string): JobRequest {
  return {
    input,
    kind: 'image',
    options: { style: 'hayao', mode: 'full', upscale: 1, quality: 'fast' },
    requester: { platform: 'bench', userId: user },
  };
}

/** The event-loop delay a bot would see if it ran the pipeline itself. */
async function inProcessLoopDelay(config: ReturnType<typeof getConfig>, input: Buffer, runs: number): Promise<number> {
  const animefier = ImagePipeline.fromConfig(config);
  const request = { style: 'hayao', mode: 'full', upscale: 1, quality: 'fast', format: 'jpeg' } as const;
  await animefier.animefy(input, request);
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  for (let i = 0; i < runs; i++) await animefier.animefy(input, request);
  loop.disable();
  await animefier.dispose();
  return round(loop.max / 1e6);
}

function sampleRss(): { stop(): number } {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 100);
  return {
    stop() {
      clearInterval(timer);
      return Math.round(Math.max(peak, process.memoryUsage.rss()) / 2 ** 20);
    },
  };
}

function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
