import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileResultStore, MemoryResultStore, PendingResults, type ResultStore } from '#src/bots/result-store.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'animefy-results-'));
  dirs.push(dir);
  return dir;
}

/** A clock the test moves. */
function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

const backends: [string, (now: () => number) => Promise<ResultStore>][] = [
  ['in memory', async (now) => new MemoryResultStore(1024 * 1024, now)],
  ['files', async (now) => FileResultStore.open(await tempDir(), now)],
];

describe.each(backends)('ResultStore (%s)', (_name, open) => {
  it('keeps a value until its TTL, replaces it on put, forgets it on delete', async () => {
    const time = clock();
    const store = await open(time.now);
    await store.put('discord:1', Buffer.from('first'), 1000);
    expect((await store.get('discord:1'))?.toString()).toBe('first');
    await store.put('discord:1', Buffer.from('second'), 1000);
    expect((await store.get('discord:1'))?.toString()).toBe('second');
    time.advance(999);
    expect((await store.get('discord:1'))?.toString()).toBe('second');
    time.advance(1);
    expect(await store.get('discord:1')).toBeUndefined();
    await store.put('discord:2', Buffer.from('x'), 1000);
    await store.delete('discord:2');
    expect(await store.get('discord:2')).toBeUndefined();
    expect(await store.get('never')).toBeUndefined();
    await store.close();
  });
});

describe('FileResultStore', () => {
  it('survives a restart, names files by hash (no key can name a path) and sweeps expired files', async () => {
    const dir = await tempDir();
    const time = clock();
    const first = await FileResultStore.open(dir, time.now);
    await first.put('../../etc/passwd', Buffer.from('kept'), 10_000);
    await first.put('short', Buffer.from('gone soon'), 1000);
    await first.close();
    const files = await fs.readdir(dir);
    expect(files).toHaveLength(2);
    expect(files.every((f) => /^[0-9a-f]{40}\.result$/.test(f))).toBe(true);
    expect((await fs.stat(path.join(dir, files[0]))).mode & 0o077).toBe(0);

    time.advance(5000);
    const second = await FileResultStore.open(dir, time.now); // sweeps on open
    expect((await second.get('../../etc/passwd'))?.toString()).toBe('kept');
    expect(await fs.readdir(dir)).toHaveLength(1);
    await second.close();
  });
});

describe('PendingResults', () => {
  const result = (n: number) => ({ caption: `🎨 result ${n}`, fileName: `animefy-${n}.png`, data: Buffer.from(`bytes ${n}`) });

  it('keeps each result with its own expiry, lists them oldest first and forgets the ones handed over', async () => {
    const time = clock();
    const pending = new PendingResults(new MemoryResultStore(1024 * 1024, time.now), 10_000, time.now);
    expect(await pending.add('discord:1', result(1))).toBe(true);
    time.advance(6000);
    await pending.add('discord:1', result(2));
    await pending.add('discord:2', result(3));
    const listed = await pending.list('discord:1');
    expect(listed.map((r) => [r.caption, r.fileName, r.data.toString()])).toEqual([
      ['🎨 result 1', 'animefy-1.png', 'bytes 1'],
      ['🎨 result 2', 'animefy-2.png', 'bytes 2'],
    ]);
    time.advance(4000); // the first is now 10 s old
    expect((await pending.list('discord:1')).map((r) => r.caption)).toEqual(['🎨 result 2']);
    await pending.remove('discord:1', [listed[1].id]);
    expect(await pending.list('discord:1')).toEqual([]);
    expect((await pending.list('discord:2')).map((r) => r.caption)).toEqual(['🎨 result 3']);
  });

  it('keeps at most five per user, loses none to concurrent adds, and keeps nothing with a TTL of 0', async () => {
    const pending = new PendingResults(new MemoryResultStore(), 60_000);
    await Promise.all([1, 2, 3, 4, 5, 6, 7].map((n) => pending.add('discord:1', result(n))));
    expect((await pending.list('discord:1')).map((r) => r.fileName)).toEqual([3, 4, 5, 6, 7].map((n) => `animefy-${n}.png`));

    const off = new PendingResults(new MemoryResultStore(), 0);
    expect(await off.add('discord:1', result(1))).toBe(false);
    expect(await off.list('discord:1')).toEqual([]);
  });

  it('reads what a previous process kept in files', async () => {
    const dir = await tempDir();
    const firstStore = await FileResultStore.open(dir);
    await new PendingResults(firstStore, 60_000).add('discord:9', result(1));
    await firstStore.close();
    const secondStore = await FileResultStore.open(dir);
    expect((await new PendingResults(secondStore, 60_000).list('discord:9')).map((r) => r.data.toString())).toEqual(['bytes 1']);
    await secondStore.close();
  });
});
