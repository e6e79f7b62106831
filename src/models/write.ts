/**
 * Writing model files safely: every write goes to a temp file (`.<file>.<pid>-<random>.part`) in the
 * models directory and is renamed into place only after its size and sha256 matched, so no partial or
 * unverified file is ever left under the real name. Temp files of a killed run are swept on the next.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { isProcessAlive } from '../process-alive.ts';
import type { ModelEntry } from './manifest.ts';
import { sha256OfFile, type VerifiedCache } from './verify.ts';

const TEMP_SUFFIX = '.part';
const TEMP_PATTERN = /^\..+\.(\d+)-[0-9a-f]{8}\.(part|tmp)$/;

// ---------------------------------------------------------------------------------------------------
// Temp files

const activeTemps = new Set<string>();

export function tempPath(dir: string, file: string): string {
  const name = `.${file}.${process.pid}-${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`;
  const full = path.join(dir, name);
  activeTemps.add(full);
  return full;
}

export async function dropTemp(file: string): Promise<void> {
  activeTemps.delete(file);
  await fsp.rm(file, { force: true });
}

/** Deletes this process's in-flight temp files; for SIGINT/SIGTERM handlers. */
export function removeTempFilesSync(): void {
  for (const file of activeTemps) fs.rmSync(file, { force: true });
  activeTemps.clear();
}

/** Removes temp files left by a run that was killed (their process is gone). */
export async function removeStaleTemps(dir: string): Promise<void> {
  for (const name of await fsp.readdir(dir)) {
    const match = TEMP_PATTERN.exec(name);
    if (!match) continue;
    const full = path.join(dir, name);
    const pid = Number(match[1]);
    if ((pid === process.pid && !activeTemps.has(full)) || (pid !== process.pid && !isProcessAlive(pid))) {
      await fsp.rm(full, { force: true });
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Writing verified files

/** Checks a finished temp file against the entry and renames it into place. */
export async function installTemp(
  tmp: string,
  entry: ModelEntry,
  modelsDir: string,
  cache: VerifiedCache,
  sha256?: string,
): Promise<number> {
  const stat = await fsp.stat(tmp);
  if (entry.bytes !== undefined && stat.size !== entry.bytes) {
    throw new Error(`got ${stat.size} bytes, expected ${entry.bytes}`);
  }
  const actual = entry.sha256 ? (sha256 ?? (await sha256OfFile(tmp))) : undefined;
  if (entry.sha256 && actual !== entry.sha256) throw new Error(`sha256 ${actual}, expected ${entry.sha256}`);
  const target = path.join(modelsDir, entry.file);
  await fsp.rename(tmp, target);
  activeTemps.delete(tmp);
  if (actual) cache.set(entry.file, await fsp.stat(target), actual);
  return stat.size;
}

interface WriteLimits {
  maxBytes?: number;
  /** Extra digests to compute while writing (e.g. the tarball's SRI algorithm). */
  algorithms?: string[];
}

/** Streams `source` into a new file, hashing as it goes. Returns size and hex/base64 digests. */
export async function writeStream(
  source: AsyncIterable<Uint8Array>,
  file: string,
  limits: WriteLimits = {},
): Promise<{ size: number; digests: Map<string, Buffer> }> {
  const hashes = new Map(
    [...new Set(['sha256', ...(limits.algorithms ?? [])])].map((a) => [a, createHash(a)]),
  );
  const handle = await fsp.open(file, 'wx');
  let size = 0;
  try {
    for await (const chunk of source) {
      size += chunk.length;
      if (limits.maxBytes !== undefined && size > limits.maxBytes) {
        throw new Error(`received more than the expected ${limits.maxBytes} bytes`);
      }
      for (const hash of hashes.values()) hash.update(chunk);
      await handle.write(chunk);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { size, digests: new Map([...hashes].map(([a, h]) => [a, h.digest()])) };
}
