/**
 * Picking people through the queue: the `person` and `operation` job options are checked at submit
 * time like the others, and cross into a real worker process (the picker preview, then the pick).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mbToBytes } from '#src/config.ts';
import { AnimefyError } from '#src/errors.ts';
import { EmbeddedQueue } from '#src/queue/embedded.ts';
import type { JobOptions, JobRequest } from '#src/queue/types.ts';
import { validateRequest } from '#src/queue/validate.ts';
import { WorkerPool, workerPoolOptions } from '#src/queue/worker-pool.ts';
import { config, fixture } from '../helpers/fixtures.ts';

const limits = { maxInputBytes: 10 * 1024 * 1024 };
const queues: EmbeddedQueue[] = [];

afterAll(async () => {
  await Promise.all(queues.map((q) => q.close({ cancelRunning: true })));
});

function request(options: Partial<JobOptions>, kind: JobRequest['kind'] = 'image'): JobRequest {
  return {
    input: Buffer.from('bytes'),
    kind,
    options: { style: 'hayao', mode: 'person', upscale: 1, quality: 'fast', ...options },
    requester: { platform: 'test', userId: 'u1' },
  };
}

function codeOf(f: () => void): string | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(AnimefyError);
    return (err as AnimefyError).code;
  }
}

describe('submit-time checks of person and operation', () => {
  it('accepts the picks the bots send', () => {
    for (const options of [
      { person: [2] },
      { person: [1, 3] },
      { person: 'largest' as const },
      { person: 'all' as const },
      { operation: 'erase' as const, mode: 'full' as const, person: [2] },
      { operation: 'people' as const },
      { operation: 'animefy' as const, mode: 'full' as const },
    ]) {
      expect(codeOf(() => validateRequest(request(options), limits)), JSON.stringify(options)).toBeUndefined();
    }
    // The picker for a clip, whatever mode the chat is in.
    expect(codeOf(() => validateRequest(request({ operation: 'people', mode: 'face' }, 'gif'), limits))).toBeUndefined();
  });

  it('refuses bad picks, picks outside person mode, unknown operations and erase on a clip', () => {
    expect(codeOf(() => validateRequest(request({ person: [0] }), limits))).toBe('BAD_OPTION');
    expect(codeOf(() => validateRequest(request({ person: 'tallest' as never }), limits))).toBe('BAD_OPTION');
    expect(codeOf(() => validateRequest(request({ mode: 'full', person: [2] }), limits))).toBe('BAD_OPTION');
    expect(codeOf(() => validateRequest(request({ operation: 'swap' as never }), limits))).toBe('BAD_OPTION');
    expect(codeOf(() => validateRequest(request({ operation: 'erase' }, 'video'), limits))).toBe('ERASE_NOT_FOR_CLIPS');
  });
});

describe('person jobs in a worker process', () => {
  it('returns the numbered preview with the people, then stylizes the one picked from it', async () => {
    const pool = new WorkerPool({ ...workerPoolOptions(config), size: 1 });
    const queue = new EmbeddedQueue({ concurrency: 1, maxQueued: 10, maxPerUser: 5, maxInputBytes: mbToBytes(config.ANIMEFY_MAX_INPUT_MB), pool });
    queues.push(queue);
    const input = fixture('group_3faces.jpg');
    const job = (options: Partial<JobOptions>): JobRequest => ({ ...request(options), input });

    const preview = await (await queue.submit(job({ operation: 'people' }))).result;
    expect(preview).toMatchObject({ operation: 'people', mime: 'image/jpeg', width: 1024 });
    expect(preview.people?.map((p) => p.index)).toEqual([1, 2, 3]);

    const picked = await (await queue.submit(job({ person: [preview.people![2].index] }))).result;
    expect(picked).toMatchObject({ mode: 'person', chosen: [3], width: 600, height: 471 });

    const missing = await (await queue.submit(job({ person: [5] }))).result.catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(AnimefyError);
    expect((missing as AnimefyError).code).toBe('PERSON_NOT_FOUND');
    expect((missing as AnimefyError).message).toMatch(/There are 3 people/);
  });
});
