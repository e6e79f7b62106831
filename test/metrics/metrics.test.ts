import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, DURATION_BUCKETS } from '#src/metrics/metrics.ts';
import { startMetricsServer, type HealthReport, type MetricsServer } from '#src/metrics/server.ts';
import type { QueueStats } from '#src/queue/types.ts';

const servers: MetricsServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(
  registry = createMetrics({ defaultMetrics: false }).registry,
  health: () => Promise<HealthReport> = async () => ({ ok: true, details: {} }),
  healthTimeoutMs?: number,
): Promise<string> {
  const server = await startMetricsServer({ port: 0, host: '127.0.0.1', registry, health, healthTimeoutMs });
  servers.push(server);
  expect(server.port).toBeGreaterThan(0);
  return `http://127.0.0.1:${server.port}`;
}

async function scrape(base: string): Promise<string> {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** The value of one sample line, e.g. `name{a="b",c="d"}`; labels in any order. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.keys(got).length !== Object.keys(labels).length) continue;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/**
 * Minimal exposition-format check: every line is a comment, blank, or `name{labels} value`. Prometheus
 * parses values with Go's ParseFloat, which ignores case for NaN/Inf (prom-client writes `Nan` for
 * the event-loop lag before its first sample).
 */
function checkFormat(text: string): void {
  expect(text.endsWith('\n')).toBe(true);
  const sampleLine = /^[a-zA-Z_:][\w:]*(\{([a-zA-Z_]\w*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[\d.]+(e[+-]?\d+)?|[+-]Inf|NaN)$/i;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    expect(line, `bad exposition line: ${line}`).toMatch(sampleLine);
  }
}

describe('metrics', () => {
  it('counts submits, rejections, outcomes, failures by code and restarts', async () => {
    const { registry, observer } = createMetrics({ defaultMetrics: false });
    observer.submitted('image');
    observer.submitted('image');
    observer.submitted('video');
    observer.rejected('QUEUE_FULL');
    observer.rejected('USER_BUSY');
    observer.rejected('USER_BUSY');
    observer.started('image', 1.5);
    observer.finished('image', 'done', undefined, 0.7);
    observer.finished('image', 'failed', 'NO_FACE_FOUND', 0.4);
    observer.finished('video', 'failed', 'JOB_TIMEOUT', 600);
    observer.finished('video', 'cancelled', 'CANCELLED', 0);
    observer.workerRestarted('timeout');
    observer.workerRestarted('oom');

    const text = await scrape(await serve(registry));
    checkFormat(text);
    expect(sample(text, 'animefy_jobs_submitted_total', { kind: 'image' })).toBe(2);
    expect(sample(text, 'animefy_jobs_submitted_total', { kind: 'video' })).toBe(1);
    expect(sample(text, 'animefy_jobs_submitted_total', { kind: 'gif' })).toBe(0);
    expect(sample(text, 'animefy_jobs_rejected_total', { code: 'QUEUE_FULL' })).toBe(1);
    expect(sample(text, 'animefy_jobs_rejected_total', { code: 'USER_BUSY' })).toBe(2);
    expect(sample(text, 'animefy_jobs_rejected_total', { code: 'QUEUE_UNAVAILABLE' })).toBe(0);
    expect(sample(text, 'animefy_jobs_finished_total', { kind: 'image', outcome: 'done' })).toBe(1);
    expect(sample(text, 'animefy_jobs_finished_total', { kind: 'image', outcome: 'failed' })).toBe(1);
    expect(sample(text, 'animefy_jobs_finished_total', { kind: 'video', outcome: 'cancelled' })).toBe(1);
    expect(text).toContain('animefy_jobs_failed_total{kind="image",code="NO_FACE_FOUND"} 1');
    expect(sample(text, 'animefy_jobs_failed_total', { kind: 'video', code: 'JOB_TIMEOUT' })).toBe(1);
    // a cancel is not a failure
    expect(sample(text, 'animefy_jobs_failed_total', { kind: 'video', code: 'CANCELLED' })).toBeUndefined();
    expect(sample(text, 'animefy_worker_restarts_total', { reason: 'timeout' })).toBe(1);
    expect(sample(text, 'animefy_worker_restarts_total', { reason: 'oom' })).toBe(1);
    expect(sample(text, 'animefy_worker_restarts_total', { reason: 'crash' })).toBe(0);
  });

  it('records run and wait times in histograms, skipping jobs that never started', async () => {
    const { registry, observer } = createMetrics({ defaultMetrics: false });
    observer.started('image', 0.1);
    observer.started('image', 3);
    observer.started('video', Number.NaN); // ignored, never thrown
    observer.finished('image', 'done', undefined, 0.4);
    observer.finished('image', 'done', undefined, 1.8);
    observer.finished('gif', 'cancelled', undefined, 0); // never started: no run time
    observer.finished('video', 'done', undefined, 540);

    const text = await scrape(await serve(registry));
    checkFormat(text);
    expect(sample(text, 'animefy_job_duration_seconds_count', { kind: 'image' })).toBe(2);
    expect(sample(text, 'animefy_job_duration_seconds_sum', { kind: 'image' })).toBeCloseTo(2.2);
    expect(sample(text, 'animefy_job_duration_seconds_bucket', { kind: 'image', le: '0.5' })).toBe(1);
    expect(sample(text, 'animefy_job_duration_seconds_bucket', { kind: 'image', le: '2' })).toBe(2);
    expect(sample(text, 'animefy_job_duration_seconds_count', { kind: 'gif' })).toBe(0);
    expect(sample(text, 'animefy_job_duration_seconds_bucket', { kind: 'video', le: '300' })).toBe(0);
    expect(sample(text, 'animefy_job_duration_seconds_bucket', { kind: 'video', le: '600' })).toBe(1);
    expect(sample(text, 'animefy_job_duration_seconds_bucket', { kind: 'video', le: '+Inf' })).toBe(1);
    expect(sample(text, 'animefy_job_wait_seconds_count', { kind: 'image' })).toBe(2);
    expect(sample(text, 'animefy_job_wait_seconds_sum', { kind: 'image' })).toBeCloseTo(3.1);
    expect(sample(text, 'animefy_job_wait_seconds_count', { kind: 'video' })).toBe(0);
    expect(DURATION_BUCKETS[0]).toBeLessThanOrEqual(0.5);
    expect(DURATION_BUCKETS.at(-1)).toBeGreaterThanOrEqual(600);
  });

  it('fills the gauges from the stats source at scrape time, once per scrape', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const base = await serve(metrics.registry);
    // no source yet: the gauges exist at 0
    let text = await scrape(base);
    expect(sample(text, 'animefy_jobs_queued')).toBe(0);

    let calls = 0;
    let stats: QueueStats = { backend: 'embedded', queued: 4, running: 2, workers: 2 };
    metrics.setStatsSource(async () => {
      calls++;
      return stats;
    });
    text = await scrape(base);
    expect(sample(text, 'animefy_jobs_queued')).toBe(4);
    expect(sample(text, 'animefy_jobs_running')).toBe(2);
    expect(sample(text, 'animefy_workers')).toBe(2);
    expect(calls).toBe(1);

    stats = { backend: 'redis', queued: 0, running: 1, workers: 3 };
    text = await scrape(base);
    expect(sample(text, 'animefy_jobs_queued')).toBe(0);
    expect(sample(text, 'animefy_workers')).toBe(3);
    expect(calls).toBe(2);
  });

  it('keeps the last gauge values and warns once when the stats source fails', async () => {
    const warnings: string[] = [];
    const metrics = createMetrics({ defaultMetrics: false, statsTimeoutMs: 100, warn: (m) => warnings.push(m) });
    const base = await serve(metrics.registry);
    let mode: 'ok' | 'throw' | 'hang' = 'ok';
    metrics.setStatsSource(async () => {
      if (mode === 'throw') throw new Error('redis down');
      if (mode === 'hang') return new Promise<QueueStats>(() => undefined);
      return { backend: 'redis', queued: 7, running: 1, workers: 1 };
    });
    expect(sample(await scrape(base), 'animefy_jobs_queued')).toBe(7);

    mode = 'throw';
    for (let i = 0; i < 3; i++) {
      const text = await scrape(base);
      expect(sample(text, 'animefy_jobs_queued')).toBe(7);
      expect(sample(text, 'animefy_jobs_submitted_total', { kind: 'image' })).toBe(0);
    }
    expect(warnings).toHaveLength(1);

    mode = 'hang';
    expect(sample(await scrape(base), 'animefy_jobs_running')).toBe(1);
    expect(warnings).toHaveLength(1); // still the same outage

    mode = 'ok';
    await scrape(base);
    mode = 'throw';
    await scrape(base);
    expect(warnings).toHaveLength(2); // a new outage warns again
  });

  it('keeps registries apart and adds default process metrics when asked', async () => {
    const a = createMetrics();
    const b = createMetrics({ prefix: 'other_', defaultMetrics: false });
    a.observer.submitted('gif');
    const textA = await a.registry.metrics();
    const textB = await b.registry.metrics();
    checkFormat(textA);
    checkFormat(textB);
    expect(sample(textA, 'animefy_jobs_submitted_total', { kind: 'gif' })).toBe(1);
    expect(sample(textB, 'other_jobs_submitted_total', { kind: 'gif' })).toBe(0);
    expect(textB).not.toContain('animefy_');
    expect(textA).toContain('nodejs_eventloop_lag_seconds');
    expect(textA).toContain('process_resident_memory_bytes');
    expect(textB).not.toContain('nodejs_eventloop_lag_seconds');
  });

  it('never throws from the observer on bad input', () => {
    const warnings: string[] = [];
    const { observer } = createMetrics({ defaultMetrics: false, warn: (m) => warnings.push(m) });
    expect(() => {
      observer.submitted('bogus' as never);
      observer.rejected('NOT_A_CODE' as never);
      observer.started('image', -1);
      observer.finished('image', 'weird' as never, undefined, Number.POSITIVE_INFINITY);
      observer.workerRestarted('meteor' as never);
    }).not.toThrow();
  });
});

describe('metrics server', () => {
  it('answers /healthz with 200 and the details when healthy', async () => {
    const base = await serve(undefined, async () => ({
      ok: true,
      details: { backend: 'redis', queued: 3, status: 'ignored' },
    }));
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ status: 'ok', backend: 'redis', queued: 3 });
  });

  it('answers 503 when unhealthy, when the check throws and when it is too slow', async () => {
    let mode: 'down' | 'throw' | 'slow' = 'down';
    const base = await serve(
      undefined,
      async () => {
        if (mode === 'throw') throw new Error('redis unreachable');
        if (mode === 'slow') await new Promise((r) => setTimeout(r, 1000));
        return { ok: false, details: { redis: 'down' } };
      },
      150,
    );
    let res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'unhealthy', redis: 'down' });

    mode = 'throw';
    res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'unhealthy', error: 'redis unreachable' });

    mode = 'slow';
    const started = performance.now();
    res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(503);
    expect(performance.now() - started).toBeLessThan(900);
    expect(((await res.json()) as { status: string }).status).toBe('unhealthy');
  });

  it('times a health check out after 2 s by default', async () => {
    const base = await serve(undefined, () => new Promise<HealthReport>(() => undefined));
    const started = performance.now();
    const res = await fetch(`${base}/healthz`);
    const elapsed = performance.now() - started;
    expect(res.status).toBe(503);
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(4000);
  });

  it('allows HEAD, refuses other methods with 405 and unknown paths with 404', async () => {
    const base = await serve();
    let res = await fetch(`${base}/metrics`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    res = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect(res.status).toBe(200);

    res = await fetch(`${base}/metrics`, { method: 'POST', body: 'x'.repeat(100_000) });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    res = await fetch(`${base}/healthz`, { method: 'DELETE' });
    expect(res.status).toBe(405);

    for (const path of ['/', '/metrics/extra', '/health', '/favicon.ico']) {
      res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(404);
      await res.text();
    }
    // query strings are fine
    res = await fetch(`${base}/metrics?x=1`);
    expect(res.status).toBe(200);
    await res.text();
  });

  it('survives malformed requests and keeps serving', async () => {
    const base = await serve();
    const { port } = new URL(base);
    const net = await import('node:net');
    const raw = (payload: string) =>
      new Promise<string>((resolve) => {
        const socket = net.connect(Number(port), '127.0.0.1');
        let data = '';
        socket.on('data', (chunk) => (data += chunk.toString()));
        socket.on('close', () => resolve(data));
        socket.on('error', () => resolve(data));
        socket.end(payload);
      });
    expect(await raw('NOT HTTP AT ALL\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    expect(await raw('GET //%%% HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 (400|404)/);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('reports a busy port and closes cleanly', async () => {
    const { registry } = createMetrics({ defaultMetrics: false });
    const health = async () => ({ ok: true, details: {} });
    const first = await startMetricsServer({ port: 0, host: '127.0.0.1', registry, health });
    await expect(startMetricsServer({ port: first.port, host: '127.0.0.1', registry, health })).rejects.toThrow(
      /EADDRINUSE/,
    );
    const res = await fetch(`http://127.0.0.1:${first.port}/metrics`);
    await res.text();
    await first.close();
    await first.close(); // idempotent
    await expect(fetch(`http://127.0.0.1:${first.port}/metrics`)).rejects.toThrow();
  });
});
