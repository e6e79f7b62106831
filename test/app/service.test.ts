/**
 * The queue service a bot process starts: a real job through the embedded queue, then the operator's
 * view of it over real HTTP (/healthz and Prometheus /metrics).
 */
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '#src/config.ts';
import { AnimefyError } from '#src/errors.ts';
import { startQueueService, type QueueService } from '#src/app/service.ts';
import { fixture } from '../helpers/fixtures.ts';

let service: QueueService | undefined;
afterAll(() => service?.close({ cancelRunning: true }));

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`series ${series} not in /metrics`);
  return Number(line.slice(series.length + 1));
}

describe('queue service', () => {
  it('runs jobs and reports them on /metrics and /healthz', async () => {
    const env = { ...process.env, ANIMEFY_REDIS_URL: '', ANIMEFY_METRICS_PORT: '0', ANIMEFY_MAX_JOBS_PER_USER: '1' };
    service = await startQueueService(parseConfig(env));
    expect(service.queue.backend).toBe('embedded');
    const port = service.server!.port;
    expect(port).toBeGreaterThan(0);

    const input = await sharp(fixture('portrait_frontal_1.jpg')).resize(256).jpeg().toBuffer();
    const requester = { platform: 'test', userId: 'metrics' };
    const options = { style: 'hayao', mode: 'full', upscale: 1, quality: 'fast' } as const;
    const good = await service.queue.submit({ input, kind: 'image', options, requester });
    await expect(service.queue.submit({ input, kind: 'image', options, requester })).rejects.toMatchObject({ code: 'USER_BUSY' });
    await good.result;
    const bad = await service.queue.submit({ input: Buffer.from('not a picture'), kind: 'image', options, requester });
    await bad.result.catch(() => undefined);

    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', backend: 'embedded', queued: 0, running: 0, workers: 1 });

    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(metricValue(text, 'animefy_jobs_submitted_total{kind="image"}')).toBe(2);
    expect(metricValue(text, 'animefy_jobs_rejected_total{code="USER_BUSY"}')).toBe(1);
    expect(metricValue(text, 'animefy_jobs_finished_total{kind="image",outcome="done"}')).toBe(1);
    const badError: unknown = await bad.result.then(() => undefined, (e: unknown) => e);
    expect(badError).toBeInstanceOf(AnimefyError);
    const badCode = (badError as AnimefyError).code;
    expect(metricValue(text, `animefy_jobs_failed_total{kind="image",code="${badCode}"}`)).toBe(1);
    expect(metricValue(text, 'animefy_job_duration_seconds_count{kind="image"}')).toBe(2);
    expect(metricValue(text, 'animefy_jobs_queued')).toBe(0);
    expect(metricValue(text, 'animefy_workers')).toBe(1);
  });
});
