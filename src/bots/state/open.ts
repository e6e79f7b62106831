/**
 * Everything the bots keep between messages, opened once per process and shared by both bots:
 * Redis when ANIMEFY_REDIS_URL is set (shared by every bot process), else files in ANIMEFY_DATA_DIR.
 */
import path from 'node:path';
import type { Config } from '../../config.ts';
import { ChatSettingsStore } from '../chat-settings.ts';
import { FileResultStore, MemoryResultStore, type ResultStore } from '../result-store.ts';
import { RedisStateStore } from './redis-store.ts';
import { FileStateStore, type StateStore } from './store.ts';

export interface BotState {
  /** Button references and rate-limit logs. */
  store: StateStore;
  /** Per-chat settings (on `store`). */
  settings: ChatSettingsStore;
  /** Discord results kept for /result. */
  results: ResultStore;
  /** Saves what is pending and releases connections. */
  close(): Promise<void>;
}

export async function openBotState(config: Pick<Config, 'ANIMEFY_REDIS_URL' | 'ANIMEFY_REDIS_QUEUE' | 'ANIMEFY_DATA_DIR'>): Promise<BotState> {
  if (config.ANIMEFY_REDIS_URL) {
    const store = await RedisStateStore.connect(config.ANIMEFY_REDIS_URL, config.ANIMEFY_REDIS_QUEUE);
    return bundle(store, store.resultStore());
  }
  const store = await FileStateStore.open(config.ANIMEFY_DATA_DIR);
  const settings = new ChatSettingsStore(store);
  await settings.importLegacyFile(config.ANIMEFY_DATA_DIR);
  return bundle(store, await FileResultStore.open(path.join(config.ANIMEFY_DATA_DIR, 'results')), settings);
}

/** State in this process's memory only (tests). */
export function memoryBotState(): BotState {
  return bundle(FileStateStore.inMemory(), new MemoryResultStore());
}

function bundle(store: StateStore, results: ResultStore, settings = new ChatSettingsStore(store)): BotState {
  return {
    store,
    settings,
    results,
    async close() {
      await results.close();
      await store.close();
    },
  };
}
