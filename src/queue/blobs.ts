/**
 * Media blobs (job inputs and results) in Redis, beside the BullMQ queue.
 *
 * Why Redis and not a shared disk or the job data: bots and `npm run worker` processes may run on
 * different machines with nothing shared but Redis, and BullMQ job data is JSON that every queue
 * getter and event reads back, so bytes do not belong there. Every blob is written with a TTL
 * (ANIMEFY_REDIS_BLOB_TTL_S): a bot or worker that dies never leaks memory for longer than that, and
 * a job that waits past it fails with MEDIA_EXPIRED instead of running on nothing. Blobs are bounded
 * by ANIMEFY_REDIS_MAX_BLOB_MB so one upload cannot fill Redis's memory.
 */
import type { Redis } from 'ioredis';
import { AnimefyError, formatBytes } from '../errors.ts';

export type BlobRole = 'in' | 'out';

/** `${queueName}:blob:${jobId}:in|out`, next to the queue's own keys (`bull:${queueName}:…`). */
export function blobKey(queueName: string, jobId: string, role: BlobRole): string {
  return `${queueName}:blob:${jobId}:${role}`;
}

export class BlobStore {
  constructor(
    private readonly redis: Redis,
    /** Largest blob accepted, in bytes. */
    readonly maxBytes: number,
  ) {}

  /** Stores `bytes` under `key` for `ttlSeconds` (one atomic SET … EX). INPUT_TOO_LARGE over the limit. */
  async put(key: string, bytes: Uint8Array, ttlSeconds: number): Promise<void> {
    this.assertFits(bytes.byteLength);
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new RangeError(`blob TTL must be a positive integer (got ${ttlSeconds})`);
    const value = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    await this.redis.set(key, value, 'EX', ttlSeconds);
  }

  /** INPUT_TOO_LARGE when a blob of `size` bytes would be refused (callers check before any I/O). */
  assertFits(size: number): void {
    if (size > this.maxBytes) throw new AnimefyError('INPUT_TOO_LARGE', { limit: formatBytes(this.maxBytes) });
  }

  /** The blob's bytes; MEDIA_EXPIRED when it is gone (expired, deleted, never written). */
  async get(key: string): Promise<Buffer> {
    const value = await this.redis.getBuffer(key);
    if (!value) throw new AnimefyError('MEDIA_EXPIRED');
    return value;
  }

  /** Removes blobs; missing keys are fine. */
  async delete(...keys: string[]): Promise<void> {
    if (keys.length > 0) await this.redis.del(...keys);
  }
}
