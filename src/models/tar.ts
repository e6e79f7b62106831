/**
 * A minimal streaming tar reader (`readTar`), and `readTarball` for a .tgz file on disk; npm.ts reads
 * npm package tarballs with them.
 */
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

export interface TarEntry {
  name: string;
  size: number;
  /** '0' regular file, '5' directory, ... */
  type: string;
}

export type TarSink = { data(chunk: Buffer, offset: number): void | Promise<void>; end?(): void | Promise<void> };

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

export async function readTarball(file: string, visit: (entry: TarEntry) => TarSink | undefined): Promise<void> {
  await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), createGunzip(), (source) =>
    readTar(source as AsyncIterable<Buffer>, visit),
  );
}
