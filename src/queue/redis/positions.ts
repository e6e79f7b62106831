/**
 * Queue positions ("you are 3rd in line") for the handles a RedisQueue gave out: recomputed from
 * Redis, debounced, whenever the queue's events or its poll say the line may have moved.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { errorText } from '../../errors.ts';
import type { QueueJobHandle } from '../handle.ts';

/** Positions are recomputed at most this often (events can come by the hundred). */
const POSITION_DEBOUNCE_MS = 250;

/** What positions need of a job the queue tracks. */
export interface PositionedJob {
  id: string;
  handle: QueueJobHandle;
  /** An ending is being worked out: it has no place in line any more. */
  finishing: boolean;
}

export class QueuePositions {
  private timer?: NodeJS.Timeout;
  private refreshing = false;
  private dirty = false;

  constructor(
    private readonly queue: Queue,
    private readonly redis: Redis,
    /** The queue's open jobs (its live map, read at each refresh). */
    private readonly jobs: ReadonlyMap<string, PositionedJob>,
    private readonly closing: () => boolean,
    private readonly log: Logger,
  ) {}

  schedule(): void {
    if (this.timer || this.closing()) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, POSITION_DEBOUNCE_MS);
    this.timer.unref();
  }

  /** Drops a pending refresh (the queue is closing). */
  stop(): void {
    clearTimeout(this.timer);
  }

  /**
   * BullMQ's run order is the wait list first (taken from its tail: retried and stalled jobs) then
   * the prioritized zset in score order. Our queued jobs' places come from one pipeline of
   * LLEN + ZRANK/LPOS per open handle: O(log n) each, instead of listing the whole queue.
   */
  private async refresh(): Promise<void> {
    if (this.refreshing) {
      this.dirty = true;
      return;
    }
    const queued = [...this.jobs.values()].filter((t) => t.handle.state === 'queued' && !t.finishing);
    if (queued.length === 0) return;
    this.refreshing = true;
    try {
      const { wait, prioritized } = this.queue.keys;
      const pipeline = this.redis.pipeline().llen(wait);
      for (const t of queued) pipeline.lpos(wait, t.id).zrank(prioritized, t.id);
      const replies = (await pipeline.exec()) ?? [];
      const value = (i: number): number | null => {
        const [err, v] = replies[i] ?? [null, null];
        return err || v === null || v === undefined ? null : Number(v);
      };
      const waiting = value(0) ?? 0;
      queued.forEach((t, i) => {
        const inWait = value(1 + 2 * i);
        const rank = value(2 + 2 * i);
        // Not in either: delayed (waiting for a retry) or just taken by a worker.
        const position = inWait !== null ? waiting - inWait : rank !== null ? waiting + rank + 1 : null;
        if (position !== null) t.handle.markPosition(position);
      });
    } catch (err) {
      this.log.debug({ err: errorText(err) }, 'could not refresh queue positions');
    } finally {
      this.refreshing = false;
      if (this.dirty) {
        this.dirty = false;
        this.schedule();
      }
    }
  }
}
