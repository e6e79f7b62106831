/**
 * What a bot process starts once: the queue (embedded or Redis, from config), its metrics, and — when
 * ANIMEFY_METRICS_PORT is set — the /healthz and /metrics endpoint.
 */
import type { Config } from '../config.ts';
import { childLogger } from '../log.ts';
import { createMetrics, type Metrics } from '../metrics/metrics.ts';
import { startMetricsServer, type MetricsServer } from '../metrics/server.ts';
import { createQueue } from '../queue/index.ts';
import type { JobQueue } from '../queue/types.ts';

export interface QueueService {
  queue: JobQueue;
  metrics: Metrics;
  /** The HTTP endpoint, when one was asked for. */
  server?: MetricsServer;
  /** Stops the endpoint and the queue (see JobQueue.close). */
  close(options?: { cancelRunning?: boolean }): Promise<void>;
}

export async function startQueueService(config: Config): Promise<QueueService> {
  const log = childLogger({ module: 'queue-service' });
  const metrics = createMetrics();
  const queue = await createQueue(config, metrics.observer);
  metrics.setStatsSource(() => queue.stats());
  let server: MetricsServer | undefined;
  if (config.ANIMEFY_METRICS_PORT !== undefined) {
    try {
      server = await startMetricsServer({
        port: config.ANIMEFY_METRICS_PORT,
        host: config.ANIMEFY_METRICS_HOST,
        registry: metrics.registry,
        // Healthy when the queue answers (for Redis: the server is reachable).
        health: async () => ({ ok: true, details: { ...(await queue.stats()) } }),
      });
      log.info({ host: config.ANIMEFY_METRICS_HOST, port: server.port }, 'serving /healthz and /metrics');
    } catch (err) {
      await queue.close({ cancelRunning: true });
      throw err;
    }
  }
  log.info({ backend: queue.backend, concurrency: config.ANIMEFY_CONCURRENCY }, 'queue ready');
  return {
    queue,
    metrics,
    server,
    async close(options) {
      await server?.close();
      await queue.close(options);
    },
  };
}
