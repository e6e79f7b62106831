/**
 * Admission of a job into the Redis queue, and the BullMQ priority it gets: one Lua script decides
 * the per-user cap and the queue bound atomically, so bot processes sharing Redis agree on them.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/** An admitted job whose BullMQ hash does not exist yet is still being added for this long. */
const ADMIT_GRACE_MS = 30_000;

/**
 * Fairness with priorities. Open-source BullMQ has no per-group round robin, but it runs prioritized
 * jobs in (priority, insertion) order. A requester's n-th outstanding job gets slot n-1, and the BullMQ
 * priority grows with the slot: every user's first job runs before anyone's second, whatever the
 * order they arrived in, and within a slot it is first come, first served. `JobRequest.priority`
 * (higher = sooner) picks a band of slots, so a higher request priority always runs first.
 *
 * BullMQ priorities are 1..2^21-1, lower first: 1024 bands of 1024 slots fit (slots past 1023, which
 * ANIMEFY_MAX_JOBS_PER_USER ≤ 1000 never reaches, share the last one).
 */
const FAIR_SLOTS = 1024;
const MAX_REQUEST_PRIORITY = 511;
const MIN_REQUEST_PRIORITY = -512;

export function fairPriority(slot: number, requestPriority = 0): number {
  const level = Math.min(MAX_REQUEST_PRIORITY, Math.max(MIN_REQUEST_PRIORITY, Math.round(requestPriority) || 0));
  const clampedSlot = Math.min(FAIR_SLOTS - 1, Math.max(0, Math.floor(slot)));
  return (MAX_REQUEST_PRIORITY - level) * FAIR_SLOTS + clampedSlot + 1;
}

/**
 * Admission in one atomic step, so bot processes sharing Redis agree on the caps: prune the
 * requester's finished or vanished jobs, refuse over the per-user cap (USER_BUSY) or the queue bound
 * (QUEUE_FULL), else record the job. Returns {slot, queued} or {-2, outstanding} / {-1, queued}.
 *
 * A job is outstanding while its BullMQ hash exists without `finishedOn` (queued, running, or waiting
 * for a retry), or for ADMIT_GRACE_MS after admission before its hash appears.
 */
const ADMIT_SCRIPT = `
local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local now = tonumber(ARGV[5])
local outstanding = 0
for i = 1, #members, 2 do
  local id = members[i]
  local jobKey = ARGV[1] .. id
  local live
  if redis.call('EXISTS', jobKey) == 1 then
    live = redis.call('HEXISTS', jobKey, 'finishedOn') == 0
  else
    live = now - tonumber(members[i + 1]) < tonumber(ARGV[6])
  end
  if live then
    outstanding = outstanding + 1
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
if outstanding >= tonumber(ARGV[3]) then
  return {-2, outstanding}
end
local queued = redis.call('LLEN', KEYS[2]) + redis.call('LLEN', KEYS[3]) + redis.call('ZCARD', KEYS[4]) + redis.call('ZCARD', KEYS[5])
if queued >= tonumber(ARGV[2]) then
  return {-1, queued}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return {outstanding, queued}
`;

export type AdmitClient = Redis & {
  animefyAdmit(
    userKey: string,
    waitKey: string,
    pausedKey: string,
    prioritizedKey: string,
    delayedKey: string,
    jobKeyPrefix: string,
    maxQueued: number,
    maxPerUser: number,
    jobId: string,
    now: number,
    graceMs: number,
    ttlMs: number,
  ): Promise<[number, number]>;
};

/** Registers ADMIT_SCRIPT on a client as the `animefyAdmit` command. */
export function defineAdmit(redis: Redis): AdmitClient {
  redis.defineCommand('animefyAdmit', { numberOfKeys: 5, lua: ADMIT_SCRIPT });
  return redis as AdmitClient;
}

/** One job asking to be admitted. */
export interface AdmitRequest {
  /** `userJobsKey()` of the requester. */
  userKey: string;
  id: string;
  /** ms since the epoch. */
  now: number;
  maxQueued: number;
  maxPerUser: number;
  /** How long the job's blobs live (ms); the requester's zset expires this long plus ADMIT_GRACE_MS after an admission. */
  blobTtlMs: number;
}

/** Runs ADMIT_SCRIPT for one job against `queue`'s BullMQ keys: {slot, queued}, or {-2, outstanding} / {-1, queued}. */
export function admit(redis: AdmitClient, queue: Queue, job: AdmitRequest): Promise<[number, number]> {
  return redis.animefyAdmit(
    job.userKey,
    queue.keys.wait,
    queue.keys.paused,
    queue.keys.prioritized,
    queue.keys.delayed,
    queue.toKey(''),
    job.maxQueued,
    job.maxPerUser,
    job.id,
    job.now,
    ADMIT_GRACE_MS,
    job.blobTtlMs + ADMIT_GRACE_MS,
  );
}
