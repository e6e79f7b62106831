/**
 * Per-chat settings kept across restarts: for now each chat's default style. A small JSON file,
 * written atomically (temp file + rename) and debounced, read once at start. Keys are
 * `platform:chatId`, so both bots share one store.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { childLogger } from '../log.ts';
import { STYLES } from '../pipeline/styles.ts';

export interface ChatSettings {
  style?: string;
}

const FILE_NAME = 'chat-settings.json';

export class ChatSettingsStore {
  private readonly log = childLogger({ module: 'chat-settings' });
  private pending: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;

  private constructor(
    private readonly file: string | undefined,
    private readonly data: Map<string, ChatSettings>,
  ) {}

  /** Opens the store in `dir` (created by the first write); a missing or unreadable file starts empty. */
  static async open(dir: string): Promise<ChatSettingsStore> {
    const file = path.join(dir, FILE_NAME);
    const data = new Map<string, ChatSettings>();
    try {
      const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, ChatSettings>;
      const known = new Set(STYLES.map((s) => s.id));
      for (const [key, value] of Object.entries(parsed)) {
        // A style removed from the registry since is forgotten rather than failing every job.
        if (value && typeof value === 'object' && (value.style === undefined || known.has(value.style))) data.set(key, value);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        childLogger({ module: 'chat-settings' }).warn({ err: String(err) }, 'chat settings unreadable; starting empty');
      }
    }
    return new ChatSettingsStore(file, data);
  }

  /** A store that lives in memory only (tests, or when no data dir is wanted). */
  static inMemory(): ChatSettingsStore {
    return new ChatSettingsStore(undefined, new Map());
  }

  get(key: string): ChatSettings {
    return { ...this.data.get(key) };
  }

  set(key: string, settings: ChatSettings): void {
    const next = { ...this.data.get(key), ...settings };
    if (next.style === undefined) delete next.style;
    if (Object.keys(next).length === 0) this.data.delete(key);
    else this.data.set(key, next);
    this.scheduleWrite();
  }

  /** A chat changed id (a Telegram group became a supergroup): its settings go with it. */
  move(from: string, to: string): void {
    const settings = this.data.get(from);
    if (!settings) return;
    this.data.delete(from);
    this.data.set(to, { ...settings, ...this.data.get(to) });
    this.scheduleWrite();
  }

  /** Writes anything pending now (called on shutdown). */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.write();
    }
    await this.pending;
  }

  private scheduleWrite(): void {
    if (!this.file || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.write();
    }, 200);
    this.timer.unref();
  }

  private write(): void {
    const file = this.file;
    if (!file) return;
    const body = JSON.stringify(Object.fromEntries(this.data), null, 2);
    this.pending = this.pending.then(async () => {
      try {
        await fs.mkdir(path.dirname(file), { recursive: true });
        const temp = `${file}.${process.pid}.tmp`;
        await fs.writeFile(temp, body);
        await fs.rename(temp, file);
      } catch (err) {
        this.log.error({ err: String(err) }, 'could not save chat settings');
      }
    });
  }
}
