/**
 * `npm run worker`: a process that takes animefy jobs from the Redis queue and runs them in its own
 * pool of ANIMEFY_CONCURRENCY pipeline processes. Run as many as the hardware allows, on any machine
 * that reaches ANIMEFY_REDIS_URL; bots submit with the redis backend.
 *
 * SIGTERM / SIGINT: stop taking jobs, let the running ones finish (up to SHUTDOWN_GRACE_MS), exit 0.
 * Jobs still running then are left to run again elsewhere once their locks expire. A second signal
 * exits at once.
 */
import { ConfigError, getConfig, type Config } from '../config.ts';
import { childLogger } from '../log.ts';
import type { MetricsServer } from '../metrics/server.ts';
import type { QueueObserver } from '../queue/observer.ts';
import { redactRedisUrl } from '../queue/redis/protocol.ts';
import { RedisWorker } from '../queue/redis/worker.ts';

/** Inside a typical 30 s container stop timeout, with time left to close connections. */
const SHUTDOWN_GRACE_MS = 25_000;

function loadConfig(): Config {
  try {
    return getConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.ANIMEFY_REDIS_URL) {
    console.error(
      'animefy worker: ANIMEFY_REDIS_URL is not set.\n' +
        'Workers take their jobs from a BullMQ queue in Redis: set ANIMEFY_REDIS_URL=redis://host:6379 (in the environment or .env),\n' +
        'the same value the bots use.',
    );
    process.exit(2);
  }
  const log = childLogger({ module: 'worker-main', pid: process.pid });

  // Metrics (prom-client) load only when the endpoint is wanted. The endpoint starts before the
  // worker takes any job, so a port already in use stops the process before it holds job locks.
  let worker: RedisWorker | undefined;
  let observer: QueueObserver | undefined;
  let server: MetricsServer | undefined;
  if (config.ANIMEFY_METRICS_PORT !== undefined) {
    const [{ createMetrics }, { startMetricsServer }] = await Promise.all([
      import('../metrics/metrics.ts'),
      import('../metrics/server.ts'),
    ]);
    const metrics = createMetrics();
    observer = metrics.observer;
    metrics.setStatsSource(async () => {
      if (!worker) throw new Error('worker not started yet');
      return worker.stats();
    });
    server = await startMetricsServer({
      port: config.ANIMEFY_METRICS_PORT,
      host: config.ANIMEFY_METRICS_HOST,
      registry: metrics.registry,
      health: async () => worker?.health() ?? { ok: false, details: { starting: true } },
    });
  }

  const redisWorker = await RedisWorker.start(config, { observer });
  worker = redisWorker;

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, running: redisWorker.running }, 'stopping: no new jobs, letting running ones finish');
    void (async () => {
      const graceful = await redisWorker.close({ timeoutMs: SHUTDOWN_GRACE_MS });
      await server?.close().catch(() => {});
      log.info({ graceful }, 'worker stopped');
      process.exit(0);
    })();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  log.info(
    {
      queue: config.ANIMEFY_REDIS_QUEUE,
      concurrency: config.ANIMEFY_CONCURRENCY,
      redis: redactRedisUrl(config.ANIMEFY_REDIS_URL),
      metricsPort: server?.port,
    },
    'worker ready',
  );
}

main().catch((err: unknown) => {
  childLogger({ module: 'worker-main' }).fatal({ err }, 'worker failed to start');
  process.exit(1);
});
