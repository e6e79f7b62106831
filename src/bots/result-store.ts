/**
 * Results a bot made but could not hand over (on Discord: the interaction expired, the bot may not
 * post in the channel and the user's DMs are closed). They wait here, per user, until the user
 * fetches them or `ttlMs` passes, so a finished result is never silently thrown away.
 *
 * Two layers:
 * - `ResultStore`: a small key → bytes store with expiry. This is what a backend implements: in memory
 *   (`MemoryResultStore`), as files under ANIMEFY_DATA_DIR (`FileResultStore`, survives a restart), or
 *   later Redis (GET / SET PX / DEL map one to one).
 * - `PendingResults`: the meaning on top (a user's waiting results, their captions and file names),
 *   encoded into one value per user, so every backend stays that small.
 *
 * These are users' pictures: they are kept only as long as needed, never logged, and the files are
 * readable by this user only.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/** A key → bytes store whose entries expire. */
export interface ResultStore {
  /** Keeps `value` under `key` for `ttlMs` (replacing what was there). */
  put(key: string, value: Buffer, ttlMs: number): Promise<void>;
  /** The value, or undefined when there is none or it expired. */
  get(key: string): Promise<Buffer | undefined>;
  delete(key: string): Promise<void>;
  /** Releases timers and handles (pending writes are finished). */
  close(): Promise<void>;
}

/** In memory: lost on restart; holds at most `maxBytes` (the oldest entries go first). */
export class MemoryResultStore implements ResultStore {
  private readonly entries = new Map<string, { value: Buffer; expires: number }>();
  private bytes = 0;

  constructor(
    private readonly maxBytes = 256 * 1024 * 1024,
    private readonly now: () => number = Date.now,
  ) {}

  async put(key: string, value: Buffer, ttlMs: number): Promise<void> {
    this.remove(key);
    if (ttlMs <= 0) return;
    this.entries.set(key, { value, expires: this.now() + ttlMs });
    this.bytes += value.byteLength;
    // Map keeps insertion order: the first entries are the oldest.
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= entry.value.byteLength;
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.now()) {
      this.remove(key);
      return undefined;
    }
    return entry.value;
  }

  async delete(key: string): Promise<void> {
    this.remove(key);
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.bytes = 0;
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.value.byteLength;
  }
}

/** How often the file store looks for expired files to delete. */
const SWEEP_INTERVAL_MS = 10 * 60 * 1000;
/** A file starts with its expiry time (ms since the epoch, float64 big-endian). */
const HEADER_BYTES = 8;

/**
 * One file per key in `dir` (named by the key's hash, so no key can name a path), written atomically
 * (temp file + rename), with its expiry time in the first 8 bytes. Expired files are deleted when read,
 * when the store opens, and every 10 minutes.
 */
export class FileResultStore implements ResultStore {
  private sweeper?: NodeJS.Timeout;

  private constructor(
    private readonly dir: string,
    private readonly now: () => number,
  ) {}

  static async open(dir: string, now: () => number = Date.now): Promise<FileResultStore> {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const store = new FileResultStore(dir, now);
    await store.sweep();
    store.sweeper = setInterval(() => void store.sweep(), SWEEP_INTERVAL_MS);
    store.sweeper.unref();
    return store;
  }

  async put(key: string, value: Buffer, ttlMs: number): Promise<void> {
    const file = this.fileOf(key);
    if (ttlMs <= 0) return this.delete(key);
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeDoubleBE(this.now() + ttlMs);
    const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await fs.writeFile(temp, Buffer.concat([header, value]), { mode: 0o600 });
    await fs.rename(temp, file);
  }

  async get(key: string): Promise<Buffer | undefined> {
    const file = this.fileOf(key);
    let body: Buffer;
    try {
      body = await fs.readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    if (body.byteLength < HEADER_BYTES || body.readDoubleBE(0) <= this.now()) {
      await fs.rm(file, { force: true });
      return undefined;
    }
    return body.subarray(HEADER_BYTES);
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.fileOf(key), { force: true });
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  /** Deletes expired files (and temp files a crash left behind). */
  async sweep(): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      const file = path.join(this.dir, name);
      if (name.endsWith('.tmp')) {
        const stat = await fs.stat(file).catch(() => undefined);
        if (stat && this.now() - stat.mtimeMs > SWEEP_INTERVAL_MS) await fs.rm(file, { force: true });
        continue;
      }
      if (!name.endsWith('.result')) continue;
      const expires = await readExpiry(file);
      if (expires !== undefined && expires <= this.now()) await fs.rm(file, { force: true });
    }
  }

  private fileOf(key: string): string {
    return path.join(this.dir, `${createHash('sha256').update(key).digest('hex').slice(0, 40)}.result`);
  }
}

async function readExpiry(file: string): Promise<number | undefined> {
  const handle = await fs.open(file, 'r').catch(() => undefined);
  if (!handle) return undefined;
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await handle.read(header, 0, HEADER_BYTES, 0);
    return bytesRead === HEADER_BYTES ? header.readDoubleBE(0) : 0;
  } finally {
    await handle.close();
  }
}

/** One result waiting for its user. */
export interface PendingResult {
  id: string;
  /** The text that would have come with it. */
  caption: string;
  fileName: string;
  data: Buffer;
  createdAt: number;
  expiresAt: number;
}

/** Results kept per user at most (a user has at most a few jobs at once); the oldest goes first. */
const MAX_PER_USER = 5;

/**
 * A user's results that could not be delivered, over a `ResultStore`: one value per user (`key`),
 * each result with its own expiry. Changes to one user's results are serialised in this process.
 */
export class PendingResults {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: ResultStore,
    /** How long a result waits; 0: results are not kept. */
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Keeps `result` for the user of `key`; false when results are not kept (TTL 0). */
  add(key: string, result: { caption: string; fileName: string; data: Buffer }): Promise<boolean> {
    if (this.ttlMs <= 0) return Promise.resolve(false);
    return this.locked(key, async () => {
      const now = this.now();
      const kept = (await this.read(key)).slice(-(MAX_PER_USER - 1));
      kept.push({ ...result, id: randomBytes(6).toString('base64url'), createdAt: now, expiresAt: now + this.ttlMs });
      await this.write(key, kept);
      return true;
    });
  }

  /** The user's waiting results, oldest first (expired ones left out). */
  list(key: string): Promise<PendingResult[]> {
    return this.locked(key, () => this.read(key));
  }

  /** Forgets the results with these ids (after they were handed over). */
  remove(key: string, ids: readonly string[]): Promise<void> {
    return this.locked(key, async () => {
      const left = (await this.read(key)).filter((r) => !ids.includes(r.id));
      await this.write(key, left);
    });
  }

  private async read(key: string): Promise<PendingResult[]> {
    const value = await this.store.get(key);
    if (!value) return [];
    const now = this.now();
    return decode(value).filter((r) => r.expiresAt > now);
  }

  private async write(key: string, results: PendingResult[]): Promise<void> {
    if (results.length === 0) return this.store.delete(key);
    const ttl = Math.max(...results.map((r) => r.expiresAt)) - this.now();
    await this.store.put(key, encode(results), ttl);
  }

  private locked<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.locks.set(key, settled);
    void settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    });
    return next;
  }
}

/** [4-byte header length][JSON: each result without its bytes, with their length][the bytes, in order]. */
function encode(results: PendingResult[]): Buffer {
  const header = Buffer.from(JSON.stringify(results.map(({ data, ...meta }) => ({ ...meta, size: data.byteLength }))));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.byteLength);
  return Buffer.concat([length, header, ...results.map((r) => r.data)]);
}

function decode(value: Buffer): PendingResult[] {
  try {
    const headerLength = value.readUInt32BE(0);
    const metas = JSON.parse(value.subarray(4, 4 + headerLength).toString('utf8')) as (Omit<PendingResult, 'data'> & { size: number })[];
    let offset = 4 + headerLength;
    return metas.map(({ size, ...meta }) => {
      const data = value.subarray(offset, offset + size);
      offset += size;
      if (data.byteLength !== size) throw new Error('truncated');
      return { ...meta, data };
    });
  } catch {
    // A damaged value (a crash mid-write cannot cause one: writes are atomic) is dropped, not fatal.
    return [];
  }
}
