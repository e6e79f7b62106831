/**
 * Short-lived references behind buttons: a button carries a short random token, the bot keeps what it
 * stands for (which file, which chat, who asked; never the media itself) for a limited time, in the
 * shared state store (state/store.ts): another bot process, or this one after a restart, still knows
 * it. After the TTL the token is simply unknown and the user is asked to send the file again.
 */
import { randomBytes } from 'node:crypto';
import type { StateStore } from './state/store.ts';

export class ReferenceStore<T> {
  constructor(
    private readonly store: StateStore,
    /** Keeps each platform's tokens apart (`telegram`, `discord`). */
    private readonly namespace: string,
    private readonly ttlMs: number,
  ) {}

  /** Stores `value` and returns its token (10 URL-safe characters). */
  async put(value: T): Promise<string> {
    const token = randomBytes(8).toString('base64url').slice(0, 10);
    await this.store.set(this.key(token), JSON.stringify(value), this.ttlMs);
    return token;
  }

  async get(token: string): Promise<T | undefined> {
    const raw = await this.store.get(this.key(token));
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(raw) as T;
    } catch {
      return undefined; // written by something else: as good as expired
    }
  }

  async delete(token: string): Promise<void> {
    await this.store.delete(this.key(token));
  }

  private key(token: string): string {
    return `${this.namespace}:ref:${token}`;
  }
}
