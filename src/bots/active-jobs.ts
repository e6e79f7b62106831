/**
 * The jobs a bot has running, for both bots: each runs in the background under a short token (the
 * ✖ Cancel button carries it), only its requester may cancel it, and a stopping bot lets them finish
 * for a grace period, then cancels the rest (marked `stopping`, so each user hears the bot is
 * restarting rather than "cancelled").
 */
import { randomBytes } from 'node:crypto';
import type { JobHandle } from '../queue/types.ts';

export interface ActiveJob {
  requesterId: string;
  controller: AbortController;
  /** Set once the job is on the queue. */
  handle?: JobHandle;
  /** Cancelled because the bot is stopping. */
  stopping: boolean;
}

export type CancelOutcome = 'cancelled' | 'not-yours' | 'unknown';

export class ActiveJobs {
  private readonly jobs = new Map<string, { job: ActiveJob; done: Promise<void> }>();
  /** Set by `shutdown`: no new jobs. */
  closing = false;

  get size(): number {
    return this.jobs.size;
  }

  /** Runs `run` in the background under a new token; `run` must handle its own errors. */
  start(requesterId: string, run: (job: ActiveJob, token: string) => Promise<void>): string {
    const token = randomBytes(6).toString('base64url');
    const job: ActiveJob = { requesterId, controller: new AbortController(), stopping: false };
    const done = run(job, token).finally(() => this.jobs.delete(token));
    this.jobs.set(token, { job, done });
    return token;
  }

  /** Who asked for a running job. */
  ownerOf(token: string): string | undefined {
    return this.jobs.get(token)?.job.requesterId;
  }

  /** The ✖ Cancel button: only the requester may. */
  async cancel(token: string, userId: string): Promise<CancelOutcome> {
    const entry = this.jobs.get(token);
    if (!entry) return 'unknown';
    if (entry.job.requesterId !== userId) return 'not-yours';
    entry.job.controller.abort();
    await entry.job.handle?.cancel();
    return 'cancelled';
  }

  /** Stops taking jobs, lets running ones finish for up to `graceMs`, then cancels the rest. */
  async shutdown(graceMs: number, onWait?: (jobs: number) => void): Promise<void> {
    this.closing = true;
    const all = () => Promise.allSettled([...this.jobs.values()].map((e) => e.done));
    if (this.jobs.size > 0) {
      onWait?.(this.jobs.size);
      await Promise.race([all(), sleep(graceMs)]);
    }
    for (const { job } of this.jobs.values()) {
      job.stopping = true;
      job.controller.abort();
      await job.handle?.cancel().catch(() => false);
    }
    await Promise.race([all(), sleep(15_000)]);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
