/**
 * Temporary directories for GIF and video jobs (ffmpeg reads and writes files there).
 *
 * Each job gets its own `animefy-<pid>-XXXXXX` directory that is removed when the job ends, whatever
 * happens. A worker that is killed (timeout, out of memory) cannot clean up after itself, so its pid
 * is in the name: `sweepStaleTempDirs` removes the directories of processes that no longer exist,
 * e.g. when a worker pool starts.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isProcessAlive } from '../../process-alive.ts';

export const TEMP_PREFIX = 'animefy-';

const TEMP_NAME = /^animefy-(\d+)-[^/\\]+$/;

/**
 * Creates `<root ?? os.tmpdir()>/animefy-<pid>-XXXXXX` (and root itself if missing), runs fn, and
 * always removes the directory afterwards (recursive, force), also when fn throws.
 */
export async function withTempDir<T>(root: string | undefined, fn: (dir: string) => Promise<T>): Promise<T> {
  const base = root ?? os.tmpdir();
  await fs.mkdir(base, { recursive: true });
  const dir = await fs.mkdtemp(path.join(base, `${TEMP_PREFIX}${process.pid}-`));
  try {
    return await fn(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 2 }).catch(() => undefined);
  }
}

/**
 * Removes `animefy-<pid>-*` directories under root (default os.tmpdir()) whose pid is no longer
 * alive, as left by a killed worker; returns how many. Never throws.
 *
 * A pid can be reused by an unrelated process, which only means a stale directory is kept a while
 * longer. Processes in another pid namespace (another container sharing the directory) look dead:
 * give each container its own ANIMEFY_TEMP_DIR.
 */
export async function sweepStaleTempDirs(root?: string): Promise<number> {
  const base = root ?? os.tmpdir();
  let removed = 0;
  try {
    const entries = await fs.readdir(base, { withFileTypes: true });
    for (const entry of entries) {
      const match = TEMP_NAME.exec(entry.name);
      if (!match || !entry.isDirectory()) continue;
      const pid = Number(match[1]);
      if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || isProcessAlive(pid)) continue;
      try {
        await fs.rm(path.join(base, entry.name), { recursive: true, force: true });
        removed += 1;
      } catch {
        // Not ours to remove (permissions) or already gone: leave it.
      }
    }
  } catch {
    // No such root, or unreadable: nothing to sweep.
  }
  return removed;
}
