/**
 * Per-user rate limit shared by the bots: at most `limit` jobs per user in any `windowMs`. A sliding
 * log per key in the shared state store (state/store.ts), so the limit holds across bot processes
 * and restarts; a burst is refused and the wait is exact.
 */
import type { RateDecision, StateStore } from './state/store.ts';

export type { RateDecision } from './state/store.ts';

export class RateLimiter {
  constructor(
    private readonly store: StateStore,
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Records one job for `key` when allowed; otherwise says how long until the next one is. */
  take(key: string): Promise<RateDecision> {
    return this.store.take(`rate:${key}`, this.limit, this.windowMs);
  }

  /** Gives back the job taken for `key` at `at` (it was refused further on, e.g. by the queue). */
  refund(key: string, at: number): Promise<void> {
    return this.store.untake(`rate:${key}`, at);
  }
}

/** "45 s", "3 min": the wait as users read it. */
export function formatWait(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 90) return `${seconds} s`;
  return `${Math.ceil(seconds / 60)} min`;
}
