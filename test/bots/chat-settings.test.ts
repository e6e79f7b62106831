import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatSettingsStore } from '#src/bots/chat-settings.ts';

const FILE = 'chat-settings.json';
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'animefy-chat-settings-'));
});

afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

function readFile(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(dir, FILE), 'utf8')) as Record<string, unknown>;
}

describe('ChatSettingsStore', () => {
  it('starts empty when there is no file yet', async () => {
    const store = await ChatSettingsStore.open(dir);
    expect(store.get('telegram:1')).toEqual({});
    await store.flush();
    expect(fs.existsSync(path.join(dir, FILE))).toBe(false);
  });

  it('keeps a chat style across a restart: set, flush, open again', async () => {
    const store = await ChatSettingsStore.open(dir);
    store.set('telegram:42', { style: 'shinkai' });
    store.set('discord:7', { style: 'hayao' });
    expect(store.get('telegram:42')).toEqual({ style: 'shinkai' });
    await store.flush();
    expect(readFile()).toEqual({ 'telegram:42': { style: 'shinkai' }, 'discord:7': { style: 'hayao' } });

    const reopened = await ChatSettingsStore.open(dir);
    expect(reopened.get('telegram:42')).toEqual({ style: 'shinkai' });
    expect(reopened.get('discord:7')).toEqual({ style: 'hayao' });
    expect(reopened.get('telegram:43')).toEqual({});
  });

  it('clearing the style removes the chat from the file', async () => {
    const store = await ChatSettingsStore.open(dir);
    store.set('telegram:1', { style: 'cartoon' });
    store.set('telegram:2', { style: 'sketch' });
    await store.flush();
    store.set('telegram:1', { style: undefined });
    expect(store.get('telegram:1')).toEqual({});
    await store.flush();
    expect(readFile()).toEqual({ 'telegram:2': { style: 'sketch' } });
    expect((await ChatSettingsStore.open(dir)).get('telegram:1')).toEqual({});
  });

  it('the last set wins, and set({}) keeps what was there', async () => {
    const store = await ChatSettingsStore.open(dir);
    store.set('telegram:1', { style: 'cartoon' });
    store.set('telegram:1', { style: 'hayao' });
    store.set('telegram:1', {});
    await store.flush();
    expect(readFile()).toEqual({ 'telegram:1': { style: 'hayao' } });
  });

  it('get returns a copy: changing it does not change the store', async () => {
    const store = ChatSettingsStore.inMemory();
    store.set('telegram:1', { style: 'hayao' });
    const got = store.get('telegram:1');
    got.style = 'shinkai';
    expect(store.get('telegram:1')).toEqual({ style: 'hayao' });
  });

  it('a corrupt file starts empty without throwing, and is replaced on the next write', async () => {
    fs.writeFileSync(path.join(dir, FILE), '{"telegram:1": {"style": "hay');
    const store = await ChatSettingsStore.open(dir);
    expect(store.get('telegram:1')).toEqual({});
    store.set('telegram:2', { style: 'shinkai' });
    await store.flush();
    expect(readFile()).toEqual({ 'telegram:2': { style: 'shinkai' } });
  });

  it('a file holding JSON null starts empty without throwing', async () => {
    fs.writeFileSync(path.join(dir, FILE), 'null');
    const store = await ChatSettingsStore.open(dir);
    expect(store.get('telegram:1')).toEqual({});
  });

  it('drops a style that is no longer in the registry, and entries that are not objects', async () => {
    fs.writeFileSync(
      path.join(dir, FILE),
      JSON.stringify({ 'telegram:1': { style: 'retired-style' }, 'telegram:2': { style: 'genshin' }, 'telegram:3': 'shinkai', 'telegram:4': null }),
    );
    const store = await ChatSettingsStore.open(dir);
    expect(store.get('telegram:1')).toEqual({});
    expect(store.get('telegram:2')).toEqual({ style: 'genshin' });
    expect(store.get('telegram:3')).toEqual({});
    expect(store.get('telegram:4')).toEqual({});
    store.set('telegram:5', { style: 'sketch' });
    await store.flush();
    expect(readFile()).toEqual({ 'telegram:2': { style: 'genshin' }, 'telegram:5': { style: 'sketch' } });
  });

  it('writes atomically: only the settings file is left, no .tmp', async () => {
    const store = await ChatSettingsStore.open(dir);
    for (let i = 0; i < 5; i++) {
      store.set(`telegram:${i}`, { style: 'hayao' });
      await store.flush();
    }
    expect(fs.readdirSync(dir)).toEqual([FILE]);
    expect(Object.keys(readFile())).toHaveLength(5);
  });

  it('creates a missing data directory on the first write', async () => {
    const nested = path.join(dir, 'a', 'b');
    const store = await ChatSettingsStore.open(nested);
    store.set('telegram:1', { style: 'shinkai' });
    await store.flush();
    expect(JSON.parse(fs.readFileSync(path.join(nested, FILE), 'utf8'))).toEqual({ 'telegram:1': { style: 'shinkai' } });
  });

  it('debounces: several sets end in one write, made without flush', async () => {
    const writeFile = vi.spyOn(fsp, 'writeFile');
    const store = await ChatSettingsStore.open(dir);
    store.set('telegram:1', { style: 'hayao' });
    store.set('telegram:2', { style: 'shinkai' });
    store.set('telegram:3', { style: 'cartoon' });
    expect(fs.existsSync(path.join(dir, FILE))).toBe(false);
    await vi.waitFor(() => expect(fs.existsSync(path.join(dir, FILE))).toBe(true), { timeout: 2_000, interval: 20 });
    await store.flush();
    expect(writeFile).toHaveBeenCalledTimes(1);
    expect(Object.keys(readFile())).toEqual(['telegram:1', 'telegram:2', 'telegram:3']);
  });

  it('inMemory keeps settings but writes nothing', async () => {
    const writeFile = vi.spyOn(fsp, 'writeFile');
    const rename = vi.spyOn(fsp, 'rename');
    const mkdir = vi.spyOn(fsp, 'mkdir');
    const store = ChatSettingsStore.inMemory();
    store.set('telegram:1', { style: 'shinkai' });
    await store.flush();
    await new Promise((resolve) => setTimeout(resolve, 250)); // past the debounce
    expect(store.get('telegram:1')).toEqual({ style: 'shinkai' });
    expect(writeFile).not.toHaveBeenCalled();
    expect(rename).not.toHaveBeenCalled();
    expect(mkdir).not.toHaveBeenCalled();
  });
});
