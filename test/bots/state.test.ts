/**
 * What the bots keep between messages (button references, chat settings, rate-limit logs), on every
 * backend: in memory, in ANIMEFY_DATA_DIR/state.json (survives a restart), and in Redis (shared by
 * bot processes; skipped with a note without ANIMEFY_TEST_REDIS_URL, which CI sets).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChatSettingsStore } from '#src/bots/chat-settings.ts';
import { formatWait, RateLimiter } from '#src/bots/rate-limit.ts';
import { ReferenceStore } from '#src/bots/references.ts';
import { RedisStateStore } from '#src/bots/state/redis-store.ts';
import { FileStateStore, type StateStore } from '#src/bots/state/store.ts';
import { openBotState } from '#src/bots/state/open.ts';

const redisUrl = process.env.ANIMEFY_TEST_REDIS_URL;
if (!redisUrl) console.warn('Redis state tests skipped: set ANIMEFY_TEST_REDIS_URL (CI starts redis-server)');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let dir: string;
/** Each test's own Redis key prefix (both "processes" of a test share it). */
let redisName: string;
const opened: StateStore[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'animefy-state-'));
  redisName = `animefy-test-${randomUUID()}`;
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

const backends: { name: string; open: () => Promise<StateStore>; skip?: boolean }[] = [
  { name: 'memory', open: async () => FileStateStore.inMemory() },
  { name: 'file', open: () => FileStateStore.open(dir) },
  { name: 'redis', open: () => RedisStateStore.connect(redisUrl!, redisName), skip: !redisUrl },
];

for (const backend of backends) {
  describe.skipIf(backend.skip)(`bot state (${backend.name})`, () => {
    async function open(): Promise<StateStore> {
      const store = await backend.open();
      opened.push(store);
      return store;
    }

    it('button references: short URL-safe tokens that give the value back, each its own, until their TTL', async () => {
      const refs = new ReferenceStore<{ fileId: string; n: number }>(await open(), 'telegram', 400);
      const tokens = new Set<string>();
      for (let n = 0; n < 200; n++) tokens.add(await refs.put({ fileId: 'AgACAgIAAxkBAAI', n }));
      expect(tokens.size).toBe(200);
      for (const token of tokens) {
        expect(token).toMatch(/^[A-Za-z0-9_-]{1,10}$/); // callback data uses ':' as a separator
      }
      const [first, second] = [...tokens];
      expect(await refs.get(first)).toEqual({ fileId: 'AgACAgIAAxkBAAI', n: 0 });
      await refs.delete(first);
      expect(await refs.get(first)).toBeUndefined();
      expect(await refs.get(second)).toEqual({ fileId: 'AgACAgIAAxkBAAI', n: 1 });
      expect(await refs.get('unknown')).toBeUndefined();
      await sleep(450);
      expect(await refs.get(second)).toBeUndefined();
    });

    it('references of the two platforms never mix', async () => {
      const store = await open();
      const telegram = new ReferenceStore<string>(store, 'telegram', 60_000);
      const discord = new ReferenceStore<string>(store, 'discord', 60_000);
      const token = await telegram.put('a telegram file');
      expect(await discord.get(token)).toBeUndefined();
    });

    it('rate limit: a burst past the limit is refused with the exact wait; a refund gives the place back; the window slides', async () => {
      const limiter = new RateLimiter(await open(), 2, 600);
      const first = await limiter.take('telegram:1');
      const second = await limiter.take('telegram:1');
      expect(first.ok && second.ok).toBe(true);
      const third = await limiter.take('telegram:1');
      expect(third.ok).toBe(false);
      if (!third.ok) {
        expect(third.retryAfterMs).toBeGreaterThan(400);
        expect(third.retryAfterMs).toBeLessThanOrEqual(600);
      }
      expect((await limiter.take('telegram:2')).ok).toBe(true); // another user is not affected
      if (second.ok) await limiter.refund('telegram:1', second.at);
      expect((await limiter.take('telegram:1')).ok).toBe(true);
      expect((await limiter.take('telegram:1')).ok).toBe(false);
      await sleep(650);
      expect((await limiter.take('telegram:1')).ok).toBe(true);
    });

    it('rate limit: two bot processes taking at once never both get the last place', async () => {
      const store = await open();
      const a = new RateLimiter(store, 5, 60_000);
      const b = new RateLimiter(backend.name === 'redis' ? await open() : store, 5, 60_000);
      const decisions = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).take('discord:9')));
      expect(decisions.filter((d) => d.ok)).toHaveLength(5);
    });

    it('chat settings: set, read, clear, move to a new chat id; a style no longer in the registry reads as none', async () => {
      const store = await open();
      const settings = new ChatSettingsStore(store);
      expect(await settings.get('telegram:1')).toEqual({});
      await settings.set('telegram:1', { style: 'shinkai' });
      await settings.set('discord:guild:7', { style: 'hayao' });
      expect(await settings.get('telegram:1')).toEqual({ style: 'shinkai' });
      await settings.move('telegram:1', 'telegram:-1001');
      expect(await settings.get('telegram:1')).toEqual({});
      expect(await settings.get('telegram:-1001')).toEqual({ style: 'shinkai' });
      await settings.set('discord:guild:7', { style: undefined });
      expect(await settings.get('discord:guild:7')).toEqual({});
      await store.set('settings:telegram:5', JSON.stringify({ style: 'no_such_style' }));
      expect(await settings.get('telegram:5')).toEqual({});
    });
  });
}

describe('bot state across a restart', () => {
  it('the file backend keeps references, settings and rate logs through close and open', async () => {
    const first = await FileStateStore.open(dir);
    const token = await new ReferenceStore<string>(first, 'telegram', 60_000).put('file-id');
    await new ChatSettingsStore(first).set('telegram:42', { style: 'cartoon' });
    const limiter = new RateLimiter(first, 1, 60_000);
    expect((await limiter.take('telegram:42')).ok).toBe(true);
    await first.close();
    expect(fs.statSync(path.join(dir, 'state.json')).mode & 0o077).toBe(0); // this user only

    const second = await FileStateStore.open(dir);
    opened.push(second);
    expect(await new ReferenceStore<string>(second, 'telegram', 60_000).get(token)).toBe('file-id');
    expect(await new ChatSettingsStore(second).get('telegram:42')).toEqual({ style: 'cartoon' });
    expect((await new RateLimiter(second, 1, 60_000).take('telegram:42')).ok).toBe(false);
  });

  it('the file holds what is live: expired references and old rate logs are not written', async () => {
    const clock = { t: 1_000_000 };
    const store = await FileStateStore.open(dir, () => clock.t);
    await store.set('telegram:ref:old', 'x', 1000);
    await store.set('telegram:ref:live', 'y', 60_000);
    await store.take('rate:telegram:1', 5, 60_000);
    clock.t += 2 * 86_400_000; // two days later: the ref and the rate log are long gone
    await store.set('telegram:ref:new', 'z', 60_000);
    await store.close();
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8'));
    expect(Object.keys(saved.values)).toEqual(['telegram:ref:new']);
    expect(saved.logs).toEqual({});
  });

  it('an unreadable state file starts empty instead of failing the start', async () => {
    fs.writeFileSync(path.join(dir, 'state.json'), '{"values": {"x": ');
    const store = await FileStateStore.open(dir);
    opened.push(store);
    expect(await store.get('x')).toBeUndefined();
  });

  it('chat settings written by older versions (chat-settings.json) are taken in once', async () => {
    fs.writeFileSync(path.join(dir, 'chat-settings.json'), JSON.stringify({ 'telegram:7': { style: 'sketch' }, 'discord:guild:1': { style: 'hayao' } }));
    const state = await openBotState({ ANIMEFY_REDIS_URL: undefined, ANIMEFY_REDIS_QUEUE: 'animefy', ANIMEFY_DATA_DIR: dir });
    expect(await state.settings.get('telegram:7')).toEqual({ style: 'sketch' });
    expect(await state.settings.get('discord:guild:1')).toEqual({ style: 'hayao' });
    expect(fs.existsSync(path.join(dir, 'chat-settings.json'))).toBe(false);
    await state.close();
    const again = await openBotState({ ANIMEFY_REDIS_URL: undefined, ANIMEFY_REDIS_QUEUE: 'animefy', ANIMEFY_DATA_DIR: dir });
    expect(await again.settings.get('telegram:7')).toEqual({ style: 'sketch' });
    await again.close();
  });

  it('formatWait says seconds, then minutes', () => {
    expect(formatWait(400)).toBe('1 s');
    expect(formatWait(45_000)).toBe('45 s');
    expect(formatWait(5 * 60_000)).toBe('5 min');
  });
});

