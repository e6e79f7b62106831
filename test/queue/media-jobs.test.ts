/**
 * GIF and video jobs through the embedded queue, with real worker processes: progress frame by frame,
 * the result's media details, and that cancelling a job or killing its worker leaves no ffmpeg process
 * and no temporary directory behind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnimefyError } from '#src/errors.ts';
import { EmbeddedQueue } from '#src/queue/embedded.ts';
import type { JobRequest, MediaKind } from '#src/queue/types.ts';
import { WorkerPool, workerPoolOptions } from '#src/queue/worker-pool.ts';
import { mbToBytes } from '#src/config.ts';
import { config, fixture } from '../helpers/fixtures.ts';

const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'animefy-queue-media-'));
let queue: EmbeddedQueue;

beforeAll(() => {
  const pool = new WorkerPool({ ...workerPoolOptions(config), size: 1, env: { ANIMEFY_TEMP_DIR: tempDir }, cancelGraceMs: 5000 });
  queue = new EmbeddedQueue({ pool, concurrency: 1, maxQueued: 10, maxPerUser: 5, maxInputBytes: mbToBytes(config.ANIMEFY_MAX_INPUT_MB) });
});
afterAll(async () => {
  await queue.close({ cancelRunning: true });
  fs.rmSync(tempDir, { recursive: true, force: true });
});

function job(input: Buffer, kind: MediaKind, format?: 'gif' | 'mp4'): JobRequest {
  return {
    input,
    kind,
    options: { style: 'hayao', mode: 'full', upscale: 1, quality: 'fast', format },
    requester: { platform: 'test', userId: 'u1' },
  };
}

/** ffmpeg processes on this machine that work in our temporary directory. */
function ffmpegProcesses(): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('ffmpeg') && cmdline.includes(tempDir)) pids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

async function eventually(check: () => boolean, ms = 5000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

describe('media jobs in the queue', () => {
  it('a GIF job reports frames and returns an MP4 with its media details', async () => {
    const handle = await queue.submit(job(fixture('face_clip.gif'), 'gif', 'mp4'));
    const frames: number[] = [];
    handle.on('progress', (e) => {
      if (e.stage === 'frames' && e.frame !== undefined) frames.push(e.frame);
    });
    const result = await handle.result;
    expect(result.kind).toBe('gif');
    expect(result.mime).toBe('video/mp4');
    expect(result.media).toMatchObject({ frames: 30, hasAudio: false });
    expect(result.media!.flicker).toBeLessThanOrEqual(1.3);
    expect(frames.at(-1)).toBe(30);
    expect(fs.readdirSync(tempDir)).toEqual([]);
  });

  it('cancelling a running video job stops its ffmpeg processes and removes its files', async () => {
    const handle = await queue.submit(job(fixture('talking_clip.mp4'), 'video'));
    let sawFfmpeg = false;
    await new Promise<void>((resolve) =>
      handle.on('progress', (e) => {
        if (e.stage === 'frames' && (e.frame ?? 0) >= 2) {
          sawFfmpeg ||= ffmpegProcesses().length > 0;
          resolve();
        }
      }),
    );
    expect(sawFfmpeg).toBe(true);
    expect(await handle.cancel()).toBe(true);
    await expect(handle.result).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(await eventually(() => ffmpegProcesses().length === 0)).toBe(true);
    expect(await eventually(() => fs.readdirSync(tempDir).length === 0)).toBe(true);
  });

  it('a worker killed mid-video takes its ffmpeg processes with it; the next job works', async () => {
    const handle = await queue.submit(job(fixture('talking_clip.mp4'), 'video'));
    await new Promise<void>((resolve) => handle.on('progress', (e) => e.stage === 'frames' && resolve()));
    const [pid] = queue.pool.pids();
    process.kill(pid, 'SIGKILL');
    const err = await handle.result.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AnimefyError);
    expect((err as AnimefyError).code).toBe('WORKER_CRASHED');
    expect(await eventually(() => ffmpegProcesses().length === 0)).toBe(true);
    // The replacement worker sweeps the directory the killed one left behind.
    const next = await queue.submit(job(fixture('face_clip.gif'), 'gif'));
    expect((await next.result).mime).toBe('image/gif');
    expect(await eventually(() => fs.readdirSync(tempDir).length === 0)).toBe(true);
  });
});
