/**
 * Per-chat settings (for now each chat's default style), in the shared state store
 * (state/store.ts): kept across restarts and shared by bot processes. Keys are `platform:chatId`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { childLogger } from '../log.ts';
import { STYLES } from '../pipeline/styles.ts';
import { FileStateStore, type StateStore } from './state/store.ts';

export interface ChatSettings {
  style?: string;
}

/** Where settings lived before the state store (imported once, then renamed). */
const LEGACY_FILE = 'chat-settings.json';

export class ChatSettingsStore {
  constructor(private readonly store: StateStore) {}

  /** A store that lives in memory only (tests). */
  static inMemory(): ChatSettingsStore {
    return new ChatSettingsStore(FileStateStore.inMemory());
  }

  async get(key: string): Promise<ChatSettings> {
    const raw = await this.store.get(this.key(key));
    if (raw === undefined) return {};
    try {
      const value = JSON.parse(raw) as ChatSettings;
      // A style removed from the registry since is forgotten rather than failing every job.
      return value.style === undefined || STYLES.some((s) => s.id === value.style) ? { ...value } : {};
    } catch {
      return {};
    }
  }

  async set(key: string, settings: ChatSettings): Promise<void> {
    const next: ChatSettings = { ...(await this.get(key)), ...settings };
    if (next.style === undefined) delete next.style;
    if (Object.keys(next).length === 0) await this.store.delete(this.key(key));
    else await this.store.set(this.key(key), JSON.stringify(next));
  }

  /** A chat changed id (a Telegram group became a supergroup): its settings go with it. */
  async move(from: string, to: string): Promise<void> {
    const settings = await this.get(from);
    if (Object.keys(settings).length === 0) return;
    await this.store.delete(this.key(from));
    await this.store.set(this.key(to), JSON.stringify({ ...settings, ...(await this.get(to)) }));
  }

  /** Takes in the settings file older versions wrote to `dir` (once: the file is renamed after). */
  async importLegacyFile(dir: string): Promise<number> {
    const file = path.join(dir, LEGACY_FILE);
    let parsed: Record<string, ChatSettings>;
    try {
      parsed = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, ChatSettings>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') childLogger({ module: 'chat-settings' }).warn({ err: String(err) }, 'old chat settings unreadable; skipped');
      return 0;
    }
    let count = 0;
    for (const [key, value] of Object.entries(parsed)) {
      if (!value || typeof value !== 'object' || Object.keys(await this.get(key)).length > 0) continue;
      await this.set(key, value);
      count += 1;
    }
    await fs.rename(file, `${file}.imported`);
    return count;
  }

  private key(key: string): string {
    return `settings:${key}`;
  }
}
