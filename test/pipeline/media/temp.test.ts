/**
 * Temporary directories: always removed after the job, and those of dead workers swept.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepStaleTempDirs, TEMP_PREFIX, withTempDir } from '#src/pipeline/media/temp.ts';
import { scratchDir } from '../../helpers/make-media.ts';

let root: string;
beforeAll(async () => {
  root = await scratchDir();
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

describe('withTempDir', () => {
  it('creates animefy-<pid>-XXXXXX and removes it with its files after success', async () => {
    let seen = '';
    const result = await withTempDir(root, async (dir) => {
      seen = dir;
      expect(path.dirname(dir)).toBe(root);
      expect(path.basename(dir)).toMatch(new RegExp(`^${TEMP_PREFIX}${process.pid}-\\w{6}$`));
      await fsp.mkdir(path.join(dir, 'frames'));
      await fsp.writeFile(path.join(dir, 'frames', 'f0001.png'), 'x');
      return 42;
    });
    expect(result).toBe(42);
    expect(fs.existsSync(seen)).toBe(false);
  });

  it('removes it when fn throws, and passes the error on', async () => {
    let seen = '';
    await expect(
      withTempDir(root, async (dir) => {
        seen = dir;
        await fsp.writeFile(path.join(dir, 'input'), 'x');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(seen).not.toBe('');
    expect(fs.existsSync(seen)).toBe(false);
  });

  it('creates a missing root', async () => {
    const nested = path.join(root, 'not', 'yet');
    await withTempDir(nested, async (dir) => {
      expect(fs.existsSync(dir)).toBe(true);
    });
    expect(fs.readdirSync(nested)).toEqual([]);
  });
});

describe('sweepStaleTempDirs', () => {
  it('removes directories of dead pids and keeps live ones and other names', async () => {
    const sweepRoot = path.join(root, 'sweep');
    await fsp.mkdir(sweepRoot);
    // A process that has exited: its pid is free (and very unlikely to be reused this soon).
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
    const dead = path.join(sweepRoot, `${TEMP_PREFIX}${deadPid}-AbC123`);
    const live = path.join(sweepRoot, `${TEMP_PREFIX}${process.ppid}-XyZ789`);
    const own = path.join(sweepRoot, `${TEMP_PREFIX}${process.pid}-Own000`);
    const other = path.join(sweepRoot, 'something-else-1');
    for (const dir of [dead, live, own, other]) {
      await fsp.mkdir(dir);
      await fsp.writeFile(path.join(dir, 'file'), 'x');
    }
    await fsp.writeFile(path.join(sweepRoot, `${TEMP_PREFIX}${deadPid}-file`), 'not a directory');

    expect(await sweepStaleTempDirs(sweepRoot)).toBe(1);
    expect(fs.existsSync(dead)).toBe(false);
    for (const dir of [live, own, other]) expect(fs.existsSync(dir)).toBe(true);
    expect(fs.existsSync(path.join(sweepRoot, `${TEMP_PREFIX}${deadPid}-file`))).toBe(true);
  });

  it('never throws', async () => {
    expect(await sweepStaleTempDirs(path.join(root, 'does-not-exist'))).toBe(0);
  });
});
