/**
 * The one message that tells a user where their job is: queued, the stage and percent, then an error
 * or nothing (it is deleted when the result arrives). Edits are coalesced and paced per chat
 * (Telegram allows about one edit a second per chat and 20 messages a minute in groups), so a fast
 * job never floods a chat: only the latest text is ever sent. A 429 pushes the chat's next edit back
 * by its retry_after.
 */
import { GrammyError, type Api } from 'grammy';
import type { InlineKeyboardMarkup } from 'grammy/types';
import type { Logger } from 'pino';
import { describeApiError } from './api-error.ts';
import type { ChatAction } from './media.ts';

/** Groups and channels have negative ids. */
export const isGroupChat = (chatId: number) => chatId < 0;

/**
 * Hands out edit slots per chat: at least `intervalMs` apart in private chats, and `groupIntervalMs`
 * (at least 5 s) in groups (negative chat ids), where Telegram allows about 20 messages a minute for
 * the whole chat and a busy group's other jobs share them.
 */
export class ChatPacer {
  private readonly next = new Map<number, number>();
  readonly groupIntervalMs: number;

  constructor(
    readonly intervalMs = 2000,
    groupIntervalMs = 5000,
  ) {
    this.groupIntervalMs = Math.max(groupIntervalMs, intervalMs);
  }

  /** Reserves the chat's next slot; returns how long to wait for it. */
  reserve(chatId: number): number {
    const now = Date.now();
    const at = Math.max(now, this.next.get(chatId) ?? 0);
    this.next.set(chatId, at + (isGroupChat(chatId) ? this.groupIntervalMs : this.intervalMs));
    if (this.next.size > 5000) {
      for (const [id, t] of this.next) if (t < now) this.next.delete(id);
    }
    return at - now;
  }

  backoff(chatId: number, ms: number): void {
    this.next.set(chatId, Math.max(this.next.get(chatId) ?? 0, Date.now() + ms));
  }
}

export class StatusMessage {
  private shown: string;
  private desired: string;
  private markup?: InlineKeyboardMarkup;
  private shownMarkup?: InlineKeyboardMarkup;
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly api: Api,
    readonly chatId: number,
    readonly messageId: number,
    text: string,
    private readonly pacer: ChatPacer,
    private readonly log: Logger,
    markup?: InlineKeyboardMarkup,
  ) {
    this.shown = this.desired = text;
    this.markup = this.shownMarkup = markup;
  }

  /**
   * Shows `text` at the chat's next edit slot (earlier pending texts are dropped). In groups an
   * update that only moves a percentage is skipped: edits there are scarce, and the stage is what
   * people read.
   */
  update(text: string, markup?: InlineKeyboardMarkup | null): void {
    if (this.closed) return;
    const sameButtons = markup === undefined || sameMarkup(markup ?? undefined, this.markup);
    if (isGroupChat(this.chatId) && sameButtons && onlyPercentChanged(this.desired, text)) return;
    this.desired = text;
    if (markup !== undefined) this.markup = markup ?? undefined;
    this.schedule();
  }

  /** The last word: shown as soon as the chat's pacing allows, without buttons; later updates are ignored. */
  async finish(text: string): Promise<void> {
    if (this.closed) return;
    this.desired = text;
    this.markup = undefined;
    this.schedule();
    await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.closed = true;
  }

  /** Deletes the message (when the result has been posted). */
  async remove(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    try {
      await this.api.deleteMessage(this.chatId, this.messageId);
    } catch (err) {
      // Already gone, or too old to delete: leave it, with its buttons cleared.
      this.log.debug({ err: describeApiError(err) }, 'status message not deleted');
      await this.api.editMessageText(this.chatId, this.messageId, '✅ Done.').catch(() => undefined);
    }
  }

  private schedule(): void {
    if (this.timer) return;
    const wait = this.pacer.reserve(this.chatId);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flushing.then(() => this.flush());
    }, wait);
  }

  private async flush(): Promise<void> {
    const text = this.desired;
    const markup = this.markup;
    if (text !== this.shown || !sameMarkup(markup, this.shownMarkup)) {
      try {
        await this.api.editMessageText(this.chatId, this.messageId, text, { reply_markup: markup ?? { inline_keyboard: [] } });
        this.shown = text;
        this.shownMarkup = markup;
      } catch (err) {
        if (err instanceof GrammyError && err.error_code === 429) {
          this.pacer.backoff(this.chatId, (err.parameters.retry_after ?? 5) * 1000);
          this.schedule();
          return;
        }
        if (!(err instanceof GrammyError && /not modified/i.test(err.description))) {
          this.log.debug({ err: describeApiError(err) }, 'status edit failed');
        }
        this.shown = text;
        this.shownMarkup = markup;
      }
    }
    // A newer text may have arrived while this edit was in flight.
    if (this.desired !== this.shown || !sameMarkup(this.markup, this.shownMarkup)) {
      this.schedule();
      return;
    }
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}

/** A progress text without what moves within a stage: the percentage, its bar, the frame number. */
const withoutPercent = (text: string) =>
  text
    .replace(/\d+(\.\d+)?\s?%/g, '%')
    .replace(/[▰▱]+/g, '▰')
    .replace(/frame \d+ of \d+/g, 'frame');

function onlyPercentChanged(before: string, after: string): boolean {
  return before !== after && withoutPercent(before) === withoutPercent(after);
}

function sameMarkup(a?: InlineKeyboardMarkup, b?: InlineKeyboardMarkup): boolean {
  return JSON.stringify(a?.inline_keyboard ?? []) === JSON.stringify(b?.inline_keyboard ?? []);
}

/**
 * Keeps "sending a photo…" (or video) showing while a job runs: Telegram clears a chat action after
 * 5 s or when a message arrives, so it is renewed every 4.5 s.
 */
export class ChatActionLoop {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly api: Api,
    private readonly chatId: number,
    private readonly action: ChatAction,
    /** In a forum topic: without it the action would show in the General topic. */
    private readonly threadId?: number,
  ) {}

  start(): void {
    if (this.timer) return;
    const thread = this.threadId !== undefined ? { message_thread_id: this.threadId } : {};
    const send = () => void this.api.sendChatAction(this.chatId, this.action, thread).catch(() => undefined);
    send();
    this.timer = setInterval(send, 4500);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
