/**
 * Albums (media groups). Telegram delivers each item of an album as its own message, sharing a
 * `media_group_id`, with the caption on one of them (usually the first). The items are collected
 * until none has arrived for a moment, then handled together: the caption's choices apply to all of
 * them, and the album counts as one job.
 */
import type { Message } from 'grammy/types';

/** Telegram's largest album. */
export const MAX_ALBUM_ITEMS = 10;

interface Pending {
  messages: Message[];
  timer?: NodeJS.Timeout;
}

export class AlbumCollector<Extra> {
  private readonly pending = new Map<string, Pending & { extra: Extra }>();

  /**
   * @param quietMs how long after the latest item the album is taken as complete (items of one
   *   album arrive within a fraction of a second of each other).
   * @param onAlbum gets the items in album order (by message id), with what the first add carried.
   */
  constructor(
    private readonly quietMs: number,
    private readonly onAlbum: (messages: Message[], extra: Extra) => void,
  ) {}

  add(message: Message, groupId: string, extra: Extra): void {
    const key = `${message.chat.id}:${groupId}`;
    const album = this.pending.get(key) ?? { messages: [], extra };
    clearTimeout(album.timer);
    if (album.messages.length < MAX_ALBUM_ITEMS) album.messages.push(message);
    album.timer = setTimeout(() => {
      this.pending.delete(key);
      this.onAlbum([...album.messages].sort((a, b) => a.message_id - b.message_id), album.extra);
    }, this.quietMs);
    this.pending.set(key, album);
  }

  /** Albums still being collected. */
  get size(): number {
    return this.pending.size;
  }
}
