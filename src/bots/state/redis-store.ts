/**
 * The bots' state in Redis (see store.ts): keys under `<ANIMEFY_REDIS_QUEUE>:state:`, values with
 * PX expiries, and each rate log a sorted set updated by one Lua script, so two bot processes can
 * never both take the last slot. Also the Discord result store on the same connection.
 */
import { Redis } from 'ioredis';
import type { ResultStore } from '../result-store.ts';
import type { RateDecision, StateStore } from './store.ts';

/**
 * KEYS[1] the log; ARGV: now, window (ms), limit, a unique member. Drops events older than the
 * window, then adds one if there is room. Returns {1, now} or {0, retry-after ms}.
 */
const TAKE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
if count >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + tonumber(ARGV[2]) - tonumber(ARGV[1])}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, tonumber(ARGV[1])}
`;

export class RedisStateStore implements StateStore {
  readonly backend = 'redis' as const;
  private sequence = 0;

  private constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Connects (failing fast with a clear error when Redis is unreachable). */
  static async connect(url: string, queueName: string): Promise<RedisStateStore> {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: true });
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      throw new Error(`Could not reach Redis for the bot state: ${err instanceof Error ? err.message : String(err)}`);
    }
    return new RedisStateStore(redis, `${queueName}:state:`);
  }

  get(key: string): Promise<string | undefined> {
    return this.redis.get(this.prefix + key).then((v) => v ?? undefined);
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs !== undefined) await this.redis.set(this.prefix + key, value, 'PX', Math.max(1, Math.round(ttlMs)));
    else await this.redis.set(this.prefix + key, value);
  }

  async delete(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }

  async take(key: string, limit: number, windowMs: number): Promise<RateDecision> {
    // Redis's clock, so processes on machines with skewed clocks agree.
    const [seconds, micros] = await this.redis.time();
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const member = `${now}:${process.pid}:${this.sequence++}`;
    const [ok, value] = (await this.redis.eval(TAKE, 1, this.prefix + 'rate:' + key, now, windowMs, limit, member)) as [number, number];
    return ok === 1 ? { ok: true, at: value } : { ok: false, retryAfterMs: Math.max(1, value) };
  }

  async untake(key: string, at: number): Promise<void> {
    // The newest event taken at that millisecond (members start with their time).
    const log = this.prefix + 'rate:' + key;
    const members = await this.redis.zrangebyscore(log, at, at);
    if (members.length) await this.redis.zrem(log, members[members.length - 1]);
  }

  /** Discord's kept results, as binary values on the same connection. */
  resultStore(): ResultStore {
    const key = (k: string) => `${this.prefix}result:${k}`;
    return {
      put: async (k, value, ttlMs) => {
        if (ttlMs <= 0) await this.redis.del(key(k));
        else await this.redis.set(key(k), value, 'PX', Math.round(ttlMs));
      },
      get: async (k) => (await this.redis.getBuffer(key(k))) ?? undefined,
      delete: async (k) => void (await this.redis.del(key(k))),
      close: async () => undefined,
    };
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
