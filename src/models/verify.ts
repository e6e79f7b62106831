/**
 * Checking model files against the manifest: presence, size, sha256. `verifyModelFile()` is the
 * runtime's check on first load; `ensureModels()` (ensure.ts) runs the same check before it fetches.
 *
 * Verified hashes are cached in `<modelsDir>/.verified.json` keyed by (file, size, mtime), so repeated
 * runs and process starts only `stat` the files.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '../config.ts';
import { AnimefyError } from '../errors.ts';
import type { ModelEntry } from './manifest.ts';

const CACHE_NAME = '.verified.json';

/** `models/x.onnx` for a file under the repo, else `<dir name>/x.onnx`: never an absolute path. */
export function displayPath(modelsDir: string, file: string): string {
  const full = path.resolve(modelsDir, file);
  const rel = path.relative(REPO_ROOT, full);
  const shown =
    rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : path.join(path.basename(modelsDir), file);
  return shown.split(path.sep).join('/');
}

interface CacheRecord {
  size: number;
  mtimeMs: number;
  sha256: string;
}

export class VerifiedCache {
  private changed = false;

  private constructor(
    private readonly dir: string,
    private readonly records: Record<string, CacheRecord>,
  ) {}

  static async load(dir: string): Promise<VerifiedCache> {
    try {
      const raw = JSON.parse(await fsp.readFile(path.join(dir, CACHE_NAME), 'utf8')) as unknown;
      const files = (raw as { version?: number; files?: Record<string, CacheRecord> }) ?? {};
      if (files.version === 1 && files.files && typeof files.files === 'object') {
        return new VerifiedCache(dir, { ...files.files });
      }
    } catch {
      // missing or unreadable: start empty
    }
    return new VerifiedCache(dir, {});
  }

  get(file: string, stat: fs.Stats): string | undefined {
    const record = this.records[file];
    return record && record.size === stat.size && record.mtimeMs === stat.mtimeMs ? record.sha256 : undefined;
  }

  set(file: string, stat: fs.Stats, sha256: string): void {
    this.records[file] = { size: stat.size, mtimeMs: stat.mtimeMs, sha256 };
    this.changed = true;
  }

  delete(file: string): void {
    if (file in this.records) {
      delete this.records[file];
      this.changed = true;
    }
  }

  /** Atomic write; a read-only models dir only costs the cache. */
  async save(): Promise<void> {
    if (!this.changed) return;
    const target = path.join(this.dir, CACHE_NAME);
    const tmp = `${target}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    try {
      await fsp.writeFile(tmp, `${JSON.stringify({ version: 1, files: this.records }, null, 1)}\n`);
      await fsp.rename(tmp, target);
      this.changed = false;
    } catch {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
    }
  }
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 }))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export type FileCheck =
  | { state: 'ok'; stat: fs.Stats; sha256?: string; cached: boolean }
  | { state: 'missing' }
  | { state: 'corrupt'; stat: fs.Stats; problem: string };

export async function checkFile(modelsDir: string, entry: ModelEntry, cache: VerifiedCache): Promise<FileCheck> {
  const full = path.join(modelsDir, entry.file);
  let stat: fs.Stats;
  try {
    stat = await fsp.stat(full);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    throw err;
  }
  if (!stat.isFile()) return { state: 'corrupt', stat, problem: 'it is not a regular file' };
  if (entry.bytes !== undefined && stat.size !== entry.bytes) {
    return { state: 'corrupt', stat, problem: `size ${stat.size} bytes, expected ${entry.bytes}` };
  }
  if (!entry.sha256) return { state: 'ok', stat, cached: false };
  let sha256 = cache.get(entry.file, stat);
  const cached = sha256 !== undefined;
  if (!sha256) {
    sha256 = await sha256OfFile(full);
    cache.set(entry.file, stat, sha256);
  }
  if (sha256 !== entry.sha256) {
    return { state: 'corrupt', stat, problem: `sha256 ${sha256}, expected ${entry.sha256}` };
  }
  return { state: 'ok', stat, sha256, cached };
}

export interface VerifiedModel {
  path: string;
  bytes: number;
  /** Undefined when the manifest entry has no checksum (user-supplied models). */
  sha256?: string;
}

/**
 * Checks a model file before it is loaded: presence, then size, then sha256 (cached by size + mtime).
 * Throws `AnimefyError('MODEL_MISSING' | 'MODEL_CORRUPT', { file: 'models/x.onnx' })`; the technical
 * detail is in the error's `cause`.
 */
export async function verifyModelFile(modelsDir: string, entry: ModelEntry): Promise<VerifiedModel> {
  const cache = await VerifiedCache.load(modelsDir);
  const check = await checkFile(modelsDir, entry, cache);
  await cache.save();
  const file = displayPath(modelsDir, entry.file);
  if (check.state === 'missing') {
    throw new AnimefyError('MODEL_MISSING', { file }, { cause: new Error(`${file} does not exist`) });
  }
  if (check.state === 'corrupt') {
    throw new AnimefyError('MODEL_CORRUPT', { file }, { cause: new Error(`${file}: ${check.problem}`) });
  }
  return { path: path.join(modelsDir, entry.file), bytes: check.stat.size, sha256: check.sha256 };
}
