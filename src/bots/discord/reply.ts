/**
 * The one reply a Discord job owns, from the deferred "thinking…" to the result.
 *
 * - Progress edits are coalesced and paced (only the latest text is sent, at most one edit per
 *   `intervalMs`), so a fast job never runs into Discord's webhook rate limits.
 * - Errors end as a short ephemeral message: a private reply is edited; a public one is deleted and
 *   an ephemeral follow-up says what went wrong (only the requester sees it).
 * - Interaction tokens expire after 15 minutes. A minute before, the reply says the result will come
 *   as a normal message; a job that finishes later (or whose token Discord refuses) is posted in the
 *   channel mentioning the user, or in a DM when that fails (or when the reply was private). Never lost.
 */
import {
  DiscordAPIError,
  MessageFlags,
  RESTJSONErrorCodes,
  Routes,
  type ActionRowBuilder,
  type MessageActionRowComponentBuilder,
  type RepliableInteraction,
} from 'discord.js';
import type { Logger } from 'pino';

/** Discord keeps an interaction token this long. */
export const INTERACTION_TOKEN_TTL_MS = 15 * 60 * 1000;
/** The reply is handed over (its last edit made) this long before the token expires. */
const HANDOVER_MARGIN_MS = 60 * 1000;

export type Row = ActionRowBuilder<MessageActionRowComponentBuilder>;

export interface ResultPayload {
  content: string;
  file: { name: string; data: Buffer };
  components: Row[];
}

export interface ReplyOptions {
  private: boolean;
  intervalMs: number;
  log: Logger;
  /** How long the interaction token lasts (tests shorten it). */
  tokenTtlMs?: number;
}

type Delivery = 'reply' | 'channel' | 'dm';

export class JobReply {
  private desired?: { text: string; components: Row[] };
  private shown = '';
  private timer?: NodeJS.Timeout;
  private handover?: NodeJS.Timeout;
  private lastEdit = 0;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  /** The token is gone (expired or refused): no more edits. */
  private expired = false;

  constructor(
    private readonly interaction: RepliableInteraction,
    private readonly options: ReplyOptions,
  ) {
    const ttl = options.tokenTtlMs ?? INTERACTION_TOKEN_TTL_MS;
    const handoverIn = interaction.createdTimestamp + ttl - Math.min(HANDOVER_MARGIN_MS, ttl / 4) - Date.now();
    this.handover = setTimeout(() => this.handOver(), Math.max(0, handoverIn));
    this.handover.unref();
  }

  get userId(): string {
    return this.interaction.user.id;
  }

  /** Shows `text` (with `components`, e.g. a Cancel button) at the next edit slot. */
  update(text: string, components: Row[] = []): void {
    if (this.closed || this.expired) return;
    this.desired = { text, components };
    if (this.timer) return;
    const wait = Math.max(0, this.lastEdit + this.options.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.chain = this.chain.then(() => this.flush());
    }, wait);
  }

  /** Posts the result: the reply itself, or (token gone) a channel message or a DM. */
  async result(payload: ResultPayload): Promise<Delivery> {
    await this.close();
    if (!this.expired) {
      try {
        await this.interaction.editReply({
          content: payload.content,
          files: [{ attachment: payload.file.data, name: payload.file.name }],
          components: payload.components,
        });
        return 'reply';
      } catch (err) {
        if (!isTokenGone(err)) throw err;
        this.expired = true;
        this.options.log.info({ interaction: this.interaction.id }, 'interaction token gone: posting the result as a message');
      }
    }
    return this.postLate(payload);
  }

  /** Ends with a short message only the requester sees. */
  async fail(text: string): Promise<void> {
    await this.close();
    const { interaction } = this;
    const { log } = this.options;
    if (!this.expired) {
      try {
        if (this.options.private) {
          await interaction.editReply({ content: text, components: [] });
          return;
        }
        await interaction.deleteReply().catch((err: unknown) => {
          if (isTokenGone(err)) throw err;
          log.debug({ err: describeDiscordError(err) }, 'deferred reply not deleted');
        });
        await interaction.followUp({ content: text, flags: MessageFlags.Ephemeral });
        return;
      } catch (err) {
        if (!isTokenGone(err)) throw err;
        this.expired = true;
      }
    }
    await this.sendDm({ content: text }).catch((err: unknown) => log.warn({ err: describeDiscordError(err) }, 'could not tell the user about a failed job'));
  }

  /** A plain end state shown in the reply itself (e.g. "Cancelled."), without buttons. */
  async finish(text: string): Promise<void> {
    await this.close();
    if (this.expired) return;
    await this.interaction.editReply({ content: text, components: [] }).catch((err: unknown) => {
      this.options.log.debug({ err: describeDiscordError(err) }, 'final edit failed');
    });
  }

  /** Stops pending edits (waiting for one in flight). */
  private async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.handover);
    this.timer = undefined;
    await this.chain;
  }

  private async flush(): Promise<void> {
    const desired = this.desired;
    if (!desired || this.closed || this.expired || desired.text === this.shown) return;
    this.lastEdit = Date.now();
    try {
      await this.interaction.editReply({ content: desired.text, components: desired.components });
      this.shown = desired.text;
    } catch (err) {
      if (isTokenGone(err)) this.expired = true;
      else this.options.log.debug({ err: describeDiscordError(err) }, 'progress edit failed');
    }
    // A newer text may have arrived while this edit was in flight.
    if (this.desired && this.desired.text !== this.shown && !this.closed && !this.expired) this.update(this.desired.text, this.desired.components);
  }

  /** The token is about to expire: say where the result will come, then stop editing. */
  private handOver(): void {
    if (this.closed || this.expired) return;
    const where = this.options.private ? 'send it to you in a DM' : 'post it in this channel and mention you';
    const text = `⏳ This one is taking a while. I'll ${where} when it's ready.`;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.chain = this.chain.then(async () => {
      await this.interaction.editReply({ content: text, components: [] }).catch(() => undefined);
      this.expired = true;
    });
  }

  private async postLate(payload: ResultPayload): Promise<Delivery> {
    const files = [{ name: payload.file.name, data: payload.file.data }];
    const components = payload.components.map((row) => row.toJSON());
    const channelId = this.interaction.channelId;
    if (!this.options.private && channelId) {
      try {
        await this.interaction.client.rest.post(Routes.channelMessages(channelId), {
          body: {
            content: `<@${this.userId}> here is your result:\n${payload.content}`.slice(0, 2000),
            components,
            allowed_mentions: { users: [this.userId] },
          },
          files,
        });
        return 'channel';
      } catch (err) {
        this.options.log.info({ err: describeDiscordError(err), channelId }, 'could not post in the channel: sending a DM');
      }
    }
    await this.sendDm({ content: `Here is your result:\n${payload.content}`.slice(0, 2000), components }, files);
    return 'dm';
  }

  private async sendDm(body: { content: string; components?: unknown[] }, files?: { name: string; data: Buffer }[]): Promise<void> {
    const rest = this.interaction.client.rest;
    const dm = (await rest.post(Routes.userChannels(), { body: { recipient_id: this.userId } })) as { id: string };
    await rest.post(Routes.channelMessages(dm.id), { body: { ...body, allowed_mentions: { parse: [] } }, files });
  }
}

/** Discord no longer accepts this interaction's token (expired, or the interaction is unknown). */
export function isTokenGone(err: unknown): boolean {
  return (
    err instanceof DiscordAPIError &&
    (err.code === RESTJSONErrorCodes.InvalidWebhookToken ||
      err.code === RESTJSONErrorCodes.UnknownWebhook ||
      err.code === RESTJSONErrorCodes.UnknownInteraction)
  );
}

/** A log line for a Discord error: status, code and message, never the URL (it holds the token). */
export function describeDiscordError(err: unknown): string {
  if (err instanceof DiscordAPIError) return `${err.status} ${err.code}: ${err.message}`;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
