/**
 * Per-user rate limit shared by the bots: at most `limit` jobs per user in any `windowMs`. A sliding
 * log per key (a handful of timestamps each), so a burst is refused and the wait is exact.
 */
export type RateDecision = { ok: true; at: number } | { ok: false; retryAfterMs: number };

export class RateLimiter {
  private readonly log = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records one job for `key` when allowed; otherwise says how long until the next one is. */
  take(key: string): RateDecision {
    const now = this.now();
    const recent = (this.log.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (recent.length >= this.limit) {
      this.log.set(key, recent);
      return { ok: false, retryAfterMs: recent[0] + this.windowMs - now };
    }
    recent.push(now);
    this.log.set(key, recent);
    if (this.log.size > 10_000) this.prune(now);
    return { ok: true, at: now };
  }

  /**
   * Gives back a job taken for `key` (it was refused further on, e.g. by the queue): the one taken
   * `at` when given, else the latest.
   */
  refund(key: string, at?: number): void {
    const times = this.log.get(key);
    if (!times) return;
    const index = at === undefined ? times.length - 1 : times.lastIndexOf(at);
    if (index >= 0) times.splice(index, 1);
  }

  private prune(now: number): void {
    for (const [key, times] of this.log) {
      if (times.every((t) => now - t >= this.windowMs)) this.log.delete(key);
    }
  }
}

/** "45 s", "3 min": the wait as users read it. */
export function formatWait(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 90) return `${seconds} s`;
  return `${Math.ceil(seconds / 60)} min`;
}
