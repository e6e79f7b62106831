/**
 * The queue the bots submit to. Without ANIMEFY_REDIS_URL it is the embedded backend (worker
 * processes on this machine); with it, jobs go to BullMQ and `npm run worker` processes run them.
 */
import type { Config } from '../config.ts';
import { EmbeddedQueue } from './embedded.ts';
import type { QueueObserver } from './observer.ts';
import type { JobQueue } from './types.ts';

export async function createQueue(config: Config, observer?: QueueObserver): Promise<JobQueue> {
  if (config.ANIMEFY_REDIS_URL) {
    const { RedisQueue } = await import('./redis/queue.ts');
    return RedisQueue.connect(config, observer);
  }
  return EmbeddedQueue.fromConfig(config, observer);
}

export type { JobHandle, JobQueue, JobRequest, JobResult, MediaKind, QueueStats, Requester } from './types.ts';
export { requesterKey } from './types.ts';
