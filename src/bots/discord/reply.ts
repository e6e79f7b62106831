/**
 * The one reply a Discord job owns, from the deferred "thinking…" to the result.
 *
 * - Progress edits are coalesced and paced (only the latest text is sent, at most one edit per
 *   `intervalMs`), so a fast job never runs into Discord's webhook rate limits.
 * - Errors: the reply is edited to say what went wrong first. Discord turns a follow-up sent while the
 *   deferred reply still shows "thinking…" into an edit of it (ephemeral flag ignored), and fails it with
 *   10008 once that reply is deleted: so deleting first and following up after loses the message. A
 *   public reply is then followed by the same text as an ephemeral follow-up (only the requester sees
 *   it), and only once that arrived is the public reply removed.
 * - Interaction tokens expire after 15 minutes. A minute before, the reply says where the result will
 *   come (with a "Get my result" button). A job that finishes later (or whose reply or token Discord
 *   refuses) goes where the interaction allows (`lateTargets`): the channel, mentioning the user, when
 *   the bot is in that server and may post files there; else a DM. When neither works (50001/50013,
 *   then 50007: DMs closed), the result waits in `PendingResults` for ANIMEFY_RESULT_TTL_H hours, for
 *   /result or that button.
 */
import {
  DiscordAPIError,
  InteractionContextType,
  MessageFlags,
  PermissionFlagsBits,
  RESTJSONErrorCodes,
  Routes,
  type ActionRowBuilder,
  type MessageActionRowComponentBuilder,
  type RepliableInteraction,
} from 'discord.js';
import type { Logger } from 'pino';
import type { PendingResults } from '../result-store.ts';
import { getResultButton } from './components.ts';

/** Discord keeps an interaction token this long. */
export const INTERACTION_TOKEN_TTL_MS = 15 * 60 * 1000;
/** The reply is handed over (its last edit made) this long before the token expires. */
const HANDOVER_MARGIN_MS = 60 * 1000;

export type Row = ActionRowBuilder<MessageActionRowComponentBuilder>;

export interface ResultPayload {
  content: string;
  file: { name: string; data: Buffer };
  /** More files with it (a sticker's emoji-size copy). A result kept for /result keeps only `file`. */
  extraFiles?: { name: string; data: Buffer }[];
  components: Row[];
}

export interface ReplyOptions {
  private: boolean;
  intervalMs: number;
  log: Logger;
  /** How long the interaction token lasts (tests shorten it). */
  tokenTtlMs?: number;
  /** Where a late result waits when it can be neither posted nor sent as a DM. */
  pending: PendingResults;
}

/** Where the result went: the reply itself, the channel, a DM, kept for /result, or nowhere (keeping is off). */
export type Delivery = 'reply' | 'channel' | 'dm' | 'kept' | 'dropped';

/** Where a late result may be posted, in order of preference. */
export type LateTarget = 'channel' | 'dm';

/** The parts of an interaction that decide where a late result may go. */
export type LateContext = Pick<RepliableInteraction, 'context' | 'guildId' | 'authorizingIntegrationOwners' | 'appPermissions' | 'channel'>;

/**
 * Where a result may go once the interaction token is gone (it can no longer be the reply):
 * - a private job, and anything outside a server: a DM (in the bot's own DM that is the same channel;
 *   in group DMs and DMs between users only the user's app install is there, never the bot);
 * - in a server: the channel, but only when the app is installed in that server (a user-installed app
 *   has no bot there, though `app_permissions` then shows @everyone's permissions) and
 *   `app_permissions` allow posting a file there; a DM otherwise, and after the channel failed.
 */
export function lateTargets(interaction: LateContext, isPrivate: boolean): LateTarget[] {
  if (isPrivate) return ['dm'];
  const context = interaction.context ?? (interaction.guildId ? InteractionContextType.Guild : InteractionContextType.BotDM);
  if (context !== InteractionContextType.Guild || !interaction.guildId) return ['dm'];
  if (interaction.authorizingIntegrationOwners?.guildId !== interaction.guildId) return ['dm'];
  const send = interaction.channel?.isThread() ? PermissionFlagsBits.SendMessagesInThreads : PermissionFlagsBits.SendMessages;
  const canPost = interaction.appPermissions?.has([PermissionFlagsBits.ViewChannel, send, PermissionFlagsBits.AttachFiles]) ?? false;
  return canPost ? ['channel', 'dm'] : ['dm'];
}

/** The key of a user's waiting results. */
export const pendingKey = (userId: string) => `discord:${userId}`;

export class JobReply {
  private desired?: { text: string; components: Row[] };
  private shown = '';
  private timer?: NodeJS.Timeout;
  private handover?: NodeJS.Timeout;
  private lastEdit = 0;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  /** The reply can no longer be edited (token expired or refused, or the reply was deleted). */
  private gone = false;

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
    if (this.closed || this.gone) return;
    this.desired = { text, components };
    if (this.timer) return;
    const wait = Math.max(0, this.lastEdit + this.options.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.chain = this.chain.then(() => this.flush());
    }, wait);
  }

  /** Posts the result: the reply itself, or (reply gone) where `lateTargets` allows, else keeps it for /result. */
  async result(payload: ResultPayload): Promise<Delivery> {
    await this.close();
    if (!this.gone) {
      try {
        await this.interaction.editReply({
          content: payload.content,
          files: [payload.file, ...(payload.extraFiles ?? [])].map((f) => ({ attachment: f.data, name: f.name })),
          components: payload.components,
        });
        return 'reply';
      } catch (err) {
        if (!isReplyGone(err)) throw err;
        this.gone = true;
        this.options.log.info({ interaction: this.interaction.id, err: describeDiscordError(err) }, 'reply gone: delivering the result another way');
      }
    }
    return this.deliverLate(payload);
  }

  /** Ends with `text` where the requester sees it (see the module comment for the order of steps). */
  async fail(text: string): Promise<void> {
    await this.close();
    const { interaction } = this;
    const { log } = this.options;
    if (!this.gone) {
      try {
        await interaction.editReply({ content: text, components: [], attachments: [] });
        if (this.options.private) return;
        try {
          await interaction.followUp({ content: text, flags: MessageFlags.Ephemeral });
        } catch (err) {
          // The error stays in the public reply: seen by more people than needed, but seen.
          log.debug({ err: describeDiscordError(err) }, 'ephemeral follow-up failed; the error stays in the reply');
          return;
        }
        await interaction.deleteReply().catch((err: unknown) => log.debug({ err: describeDiscordError(err) }, 'public reply not deleted'));
        return;
      } catch (err) {
        if (!isReplyGone(err)) throw err;
        this.gone = true;
        // Only the reply was deleted (10008): the token still works, and a follow-up makes a new message
        // (unless the reply was deleted while still "thinking…": Discord answers 10008 again, and a DM follows).
        if (!isTokenGone(err) && (await this.followUpQuietly(text))) return;
      }
    }
    await this.sendDm({ content: text }).catch((err: unknown) => log.info({ err: describeDiscordError(err) }, 'could not tell the user about a failed job'));
  }

  /** A plain end state shown in the reply itself (e.g. "Cancelled."), without buttons. */
  async finish(text: string): Promise<void> {
    await this.close();
    if (this.gone) return;
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
    if (!desired || this.closed || this.gone || desired.text === this.shown) return;
    this.lastEdit = Date.now();
    try {
      await this.interaction.editReply({ content: desired.text, components: desired.components });
      this.shown = desired.text;
    } catch (err) {
      if (isReplyGone(err)) this.gone = true;
      else this.options.log.debug({ err: describeDiscordError(err) }, 'progress edit failed');
    }
    // A newer text may have arrived while this edit was in flight.
    if (this.desired && this.desired.text !== this.shown && !this.closed && !this.gone) this.update(this.desired.text, this.desired.components);
  }

  /** The token is about to expire: say where the result will come (and how to get it otherwise), then stop editing. */
  private handOver(): void {
    if (this.closed || this.gone) return;
    const where = lateTargets(this.interaction, this.options.private)[0] === 'channel' ? 'post it in this channel and mention you' : 'send it to you in a DM';
    const keeping = this.options.pending.ttlMs > 0;
    const fallback = keeping ? ' If I can\'t, press Get my result (or use /result) to get it.' : '';
    const text = `⏳ This one is taking a while. I'll ${where} when it's ready.${fallback}`;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.chain = this.chain.then(async () => {
      await this.interaction.editReply({ content: text, components: keeping ? [getResultButton(this.userId)] : [] }).catch(() => undefined);
      this.gone = true;
    });
  }

  /** The result outlived the reply: the first target that takes it, else kept for the user. */
  private async deliverLate(payload: ResultPayload): Promise<Delivery> {
    const { log } = this.options;
    const files = [payload.file, ...(payload.extraFiles ?? [])].map((f) => ({ name: f.name, data: f.data }));
    const components = payload.components.map((row) => row.toJSON());
    for (const target of lateTargets(this.interaction, this.options.private)) {
      try {
        if (target === 'channel') {
          await this.interaction.client.rest.post(Routes.channelMessages(this.interaction.channelId!), {
            body: {
              content: `<@${this.userId}> here is your result:\n${payload.content}`.slice(0, 2000),
              components,
              allowed_mentions: { users: [this.userId] },
            },
            files,
          });
          return 'channel';
        }
        await this.sendDm({ content: `Here is your result:\n${payload.content}`.slice(0, 2000), components }, files);
        return 'dm';
      } catch (err) {
        // 50001/50013: no access or permission in the channel; 50007: the user's DMs are closed.
        log.info({ err: describeDiscordError(err), interaction: this.interaction.id, target }, 'could not deliver the late result there');
      }
    }
    const kept = await this.options.pending.add(pendingKey(this.userId), { caption: payload.content, fileName: payload.file.name, data: payload.file.data });
    if (!kept) {
      log.warn({ interaction: this.interaction.id }, 'late result could not be delivered and ANIMEFY_RESULT_TTL_H is 0: dropped');
      return 'dropped';
    }
    log.info({ interaction: this.interaction.id }, 'late result kept for /result');
    return 'kept';
  }

  /** An ephemeral follow-up; false when Discord refuses it. */
  private async followUpQuietly(text: string): Promise<boolean> {
    try {
      await this.interaction.followUp({ content: text, flags: MessageFlags.Ephemeral });
      return true;
    } catch (err) {
      this.options.log.debug({ err: describeDiscordError(err) }, 'follow-up refused');
      return false;
    }
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

/** The reply can no longer be edited: the token is gone, or the reply itself was deleted (10008 Unknown Message). */
export function isReplyGone(err: unknown): boolean {
  return isTokenGone(err) || (err instanceof DiscordAPIError && err.code === RESTJSONErrorCodes.UnknownMessage);
}

/** A log line for a Discord error: status, code and message, never the URL (it holds the token). */
export function describeDiscordError(err: unknown): string {
  if (err instanceof DiscordAPIError) return `${err.status} ${err.code}: ${err.message}`;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
