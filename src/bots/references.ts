/**
 * Short-lived references behind buttons: a button carries a short random token, the bot keeps what it
 * stands for (which file, which chat, who asked; never the media itself) for a limited time. After a
 * restart or the TTL, the token is simply unknown and the user is asked to send the file again.
 */
import { randomBytes } from 'node:crypto';

export class ReferenceStore<T> {
  private readonly entries = new Map<string, { value: T; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Stores `value` and returns its token (10 URL-safe characters). */
  put(value: T): string {
    const token = randomBytes(8).toString('base64url').slice(0, 10);
    this.entries.set(token, { value, expires: this.now() + this.ttlMs });
    // Oldest first: Map keeps insertion order.
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    return token;
  }

  get(token: string): T | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (entry.expires <= this.now()) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.value;
  }

  delete(token: string): void {
    this.entries.delete(token);
  }

  get size(): number {
    return this.entries.size;
  }
}
