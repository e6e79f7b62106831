/**
 * The small state the bots keep between messages: button references, chat settings and rate-limit
 * logs. Behind one interface with two backends, so several bot processes and restarts share it:
 * - `RedisStateStore` (redis-store.ts) when ANIMEFY_REDIS_URL is set: every process reads and writes
 *   the same keys, with TTLs kept by Redis;
 * - `FileStateStore` otherwise: in memory, saved to ANIMEFY_DATA_DIR/state.json (atomically,
 *   debounced, and on stop), so a restart loses nothing either.
 * Values are short strings (JSON); never media, never tokens.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { childLogger } from '../../log.ts';

/** A sliding-window rate decision: taken at `at`, or refused until `retryAfterMs` from now. */
export type RateDecision = { ok: true; at: number } | { ok: false; retryAfterMs: number };

export interface StateStore {
  readonly backend: 'redis' | 'file' | 'memory';
  get(key: string): Promise<string | undefined>;
  /** Sets `key`; with `ttlMs` it expires after that long. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * Atomically records one event in `key`'s sliding log when fewer than `limit` happened in the last
   * `windowMs`; otherwise says how long until one more may.
   */
  take(key: string, limit: number, windowMs: number): Promise<RateDecision>;
  /** Removes the event recorded `at` from `key`'s log (a refund). */
  untake(key: string, at: number): Promise<void>;
  /** Saves what is pending and releases connections. */
  close(): Promise<void>;
}

const FILE_NAME = 'state.json';
/** Keeps the file small: beyond this many keys, the ones closest to expiring go first. */
const MAX_KEYS = 50_000;
/** Changes are saved this long after the first unsaved one (and on close): one write per burst. */
const WRITE_DELAY_MS = 1000;
/** Rate logs are dropped from the file once their newest event is older than the longest window (a day). */
const LOG_KEEP_MS = 86_400_000;

interface Snapshot {
  values: Record<string, { value: string; expires?: number }>;
  logs: Record<string, number[]>;
}

export class FileStateStore implements StateStore {
  readonly backend: 'file' | 'memory';
  private readonly log = childLogger({ module: 'state' });
  private readonly values = new Map<string, { value: string; expires?: number }>();
  private readonly logs = new Map<string, number[]>();
  private timer?: NodeJS.Timeout;
  private pending: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: string | undefined,
    private readonly now: () => number,
  ) {
    this.backend = file ? 'file' : 'memory';
  }

  /** Opens `dir/state.json` (created by the first write); a missing or unreadable file starts empty. */
  static async open(dir: string, now: () => number = Date.now): Promise<FileStateStore> {
    const store = new FileStateStore(path.join(dir, FILE_NAME), now);
    try {
      const snapshot = JSON.parse(await fs.readFile(store.file!, 'utf8')) as Snapshot;
      const t = now();
      for (const [key, entry] of Object.entries(snapshot.values ?? {})) {
        if (typeof entry?.value === 'string' && !(entry.expires !== undefined && entry.expires <= t)) store.values.set(key, entry);
      }
      for (const [key, times] of Object.entries(snapshot.logs ?? {})) if (Array.isArray(times)) store.logs.set(key, times.filter(Number.isFinite));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') store.log.warn({ err: String(err) }, 'bot state unreadable; starting empty');
    }
    return store;
  }

  /** A store that lives in memory only (tests). */
  static inMemory(now: () => number = Date.now): FileStateStore {
    return new FileStateStore(undefined, now);
  }

  async get(key: string): Promise<string | undefined> {
    const entry = this.values.get(key);
    if (!entry) return undefined;
    if (entry.expires !== undefined && entry.expires <= this.now()) {
      this.values.delete(key);
      return undefined;
    }
    return entry.value;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.values.delete(key); // re-inserted last: Map order is age order
    this.values.set(key, { value, ...(ttlMs !== undefined ? { expires: this.now() + ttlMs } : {}) });
    if (this.values.size > MAX_KEYS) this.prune();
    this.scheduleWrite();
  }

  async delete(key: string): Promise<void> {
    if (this.values.delete(key)) this.scheduleWrite();
  }

  async take(key: string, limit: number, windowMs: number): Promise<RateDecision> {
    const now = this.now();
    const recent = (this.logs.get(key) ?? []).filter((t) => now - t < windowMs);
    if (recent.length >= limit) {
      this.logs.set(key, recent);
      return { ok: false, retryAfterMs: recent[0] + windowMs - now };
    }
    recent.push(now);
    this.logs.set(key, recent);
    if (this.logs.size > MAX_KEYS) {
      for (const [k, times] of this.logs) if (times.every((t) => now - t >= windowMs)) this.logs.delete(k);
    }
    this.scheduleWrite();
    return { ok: true, at: now };
  }

  async untake(key: string, at: number): Promise<void> {
    const times = this.logs.get(key);
    const index = times?.lastIndexOf(at) ?? -1;
    if (times && index >= 0) {
      times.splice(index, 1);
      this.scheduleWrite();
    }
  }

  async close(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.write();
    }
    await this.pending;
  }

  /** Drops expired values, then the oldest, down to the cap. */
  private prune(): void {
    const now = this.now();
    for (const [key, entry] of this.values) if (entry.expires !== undefined && entry.expires <= now) this.values.delete(key);
    for (const key of this.values.keys()) {
      if (this.values.size <= MAX_KEYS) break;
      this.values.delete(key);
    }
  }

  private scheduleWrite(): void {
    if (!this.file || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.write();
    }, WRITE_DELAY_MS);
    this.timer.unref();
  }

  private write(): void {
    const file = this.file;
    if (!file) return;
    // Expired values and rate logs with nothing left in a day's window never reach the file, so it
    // holds what is live rather than everything since the start.
    const now = this.now();
    for (const [key, entry] of this.values) if (entry.expires !== undefined && entry.expires <= now) this.values.delete(key);
    for (const [key, times] of this.logs) if (times.every((t) => now - t >= LOG_KEEP_MS)) this.logs.delete(key);
    const snapshot: Snapshot = { values: Object.fromEntries(this.values), logs: Object.fromEntries(this.logs) };
    const body = JSON.stringify(snapshot);
    this.pending = this.pending.then(async () => {
      try {
        await fs.mkdir(path.dirname(file), { recursive: true });
        const temp = `${file}.${process.pid}.tmp`;
        await fs.writeFile(temp, body, { mode: 0o600 });
        await fs.rename(temp, file);
      } catch (err) {
        this.log.error({ err: String(err) }, 'could not save the bot state');
      }
    });
  }
}
