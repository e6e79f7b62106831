/**
 * One Telegram feature per file: a grammY Composer with a command and its buttons (grammY's bot
 * template shape). A new feature is a file in this folder and a line in `telegramFeatures()`
 * (index.ts): its menu entries reach setMyCommands and /help from there.
 */
import { Composer, type Api, type Context } from 'grammy';
import type { Message } from 'grammy/types';
import type { Logger } from 'pino';
import { AnimefyError } from '../../../errors.ts';
import { DEFAULT_FACE_LOOK, DEFAULT_MODE } from '../../../pipeline/modes.ts';
import { DEFAULT_STYLE } from '../../../pipeline/styles.ts';
import { describeApiError } from '../api-error.ts';
import type { ChatSettingsStore } from '../../chat-settings.ts';
import type { ReferenceStore } from '../../references.ts';
import { warningText } from '../../job-flow.ts';
import { checkDeclaredSize } from '../download.ts';
import { replyTo, type JobReference, type JobSpec, type TelegramJobs, type TelegramLimits } from '../jobs.ts';
import { findMedia, type MediaRef } from '../media.ts';
import { decodeCallback, type CallbackAction } from '../keyboards.ts';
import { parseCommand } from '../parse.ts';

/** A command menu entry (Telegram's BotCommand). */
export interface MenuEntry {
  command: string;
  description: string;
}

/** What every feature may use: the bot's API, the jobs, the button references, chat settings. */
export interface FeatureDeps {
  api: Api;
  jobs: TelegramJobs;
  refs: ReferenceStore<JobReference>;
  settings: ChatSettingsStore;
  limits: TelegramLimits;
  log: Logger;
  /** Every feature's menu entries, in menu order (for /help). */
  menu: readonly MenuEntry[];
}

export interface TelegramFeature {
  /** Its entries in the command menu and in /help. */
  menu: readonly MenuEntry[];
  /** Its handlers. A handler that does not take an update passes it on with `next()`. */
  composer(deps: FeatureDeps): Composer<Context>;
}

/**
 * Handles `/name` (or an alias) sent as a text message: in groups only `/name` or `/name@ThisBot`,
 * never `/name@OtherBot`. Anything else goes on to the next feature.
 */
export function onCommand(
  composer: Composer<Context>,
  names: readonly string[],
  handler: (ctx: Context, message: Message, args: string, name: string) => Promise<void>,
): void {
  composer.on('message:text', async (ctx, next) => {
    const command = parseCommand(ctx.message.text, ctx.me.username);
    if (!command || command.forOtherBot || !names.includes(command.name)) return next();
    await handler(ctx, ctx.message, command.args, command.name);
  });
}

/** A command that works on media, as its caption or in a reply to it, and what it found. */
export interface MediaCommand {
  message: Message;
  /** The message holding the media (the command's own, or the one it replies to). */
  source: Message;
  media: MediaRef;
  /** The user, or the chat for an anonymous admin or a channel post. */
  requesterId: number;
  /** The forum topic it was sent in. */
  threadId?: number;
  args: string;
  name: string;
}

/**
 * Handles `/name` as the caption of media, or in a reply to media (`/name@ThisBot` in groups, which
 * privacy mode delivers). Without usable media it answers `usage`; a refusal (a .tgs sticker, a file
 * over the download limit) is answered at once. `handler` throwing an AnimefyError (bad arguments)
 * gets its message as the reply.
 */
export function onMediaCommand(
  composer: Composer<Context>,
  deps: Pick<FeatureDeps, 'limits'>,
  names: readonly string[],
  usage: string,
  handler: (command: MediaCommand) => Promise<void> | void,
): void {
  composer.on('message', async (ctx, next) => {
    const message = ctx.message;
    const command = parseCommand(message.text ?? message.caption, ctx.me.username);
    if (!command || command.forOtherBot || !names.includes(command.name)) return next();
    const { found, source } = commandMedia(message, ctx.me.id);
    if (!found || !source) return void (await ctx.reply(usage, replyTo(message.message_id)));
    if ('refusal' in found) return void (await ctx.reply(warningText(found.refusal), replyTo(message.message_id)));
    const requesterId = message.sender_chat?.id ?? message.from?.id;
    if (requesterId === undefined) return;
    try {
      checkDeclaredSize(found.media, deps.limits.downloadBytes);
      await handler({
        message,
        source,
        media: found.media,
        requesterId,
        threadId: message.is_topic_message ? message.message_thread_id : undefined,
        args: command.args,
        name: command.name,
      });
    } catch (err) {
      if (!(err instanceof AnimefyError)) throw err;
      await ctx.reply(warningText(err), replyTo(message.message_id));
    }
  });
}

/**
 * The media a command is about: the message's own, else that of the message it replies to (not one
 * of the bot's own results), and the message holding it.
 */
export function commandMedia(message: Message, botId: number): { found?: ReturnType<typeof findMedia>; source?: Message } {
  const own = findMedia(message);
  if (own) return { found: own, source: message };
  const replied = message.reply_to_message;
  return replied && replied.from?.id !== botId ? { found: findMedia(replied), source: replied } : {};
}

/**
 * The job a media command starts: on its media, for its requester, answering its source message;
 * the default style, mode and face look unless `choices` says otherwise.
 */
export function jobFor(command: MediaCommand, choices: Partial<JobSpec>): JobSpec {
  const { message, source, media, requesterId, threadId } = command;
  return {
    chatId: message.chat.id,
    sourceMessageId: source.message_id,
    threadId,
    requester: { id: requesterId },
    media,
    style: DEFAULT_STYLE,
    mode: DEFAULT_MODE,
    upscale: 1,
    faces: DEFAULT_FACE_LOOK,
    ...choices,
  };
}

type Action<K extends CallbackAction['action']> = Extract<CallbackAction, { action: K }>;

/** Handles the buttons whose callback data decodes to one of `actions`; others go on. */
export function onButton<K extends CallbackAction['action']>(
  composer: Composer<Context>,
  actions: readonly K[],
  handler: (ctx: Context, action: Action<K>, message: NonNullable<NonNullable<Context['callbackQuery']>['message']>) => Promise<void>,
): void {
  composer.on('callback_query:data', async (ctx, next) => {
    const action = decodeCallback(ctx.callbackQuery.data);
    const message = ctx.callbackQuery.message;
    if (!action || !message || !(actions as readonly string[]).includes(action.action)) return next();
    await handler(ctx, action as Action<K>, message);
  });
}

/** The answer to a button whose job or keyboard is gone (or that no feature knows). */
export function answerExpired(ctx: Context): Promise<true> {
  return ctx.answerCallbackQuery({ text: new AnimefyError('BUTTON_EXPIRED').message, show_alert: true });
}

/** A short pop-up for the one who pressed a button. */
export function answerAlert(ctx: Context, error: AnimefyError): Promise<true> {
  return ctx.answerCallbackQuery({ text: error.message, show_alert: true });
}

/** The chat-settings key of a Telegram chat. */
export const chatKey = (chatId: number) => `telegram:${chatId}`;

/** Whether a user is an admin (or the creator) of a chat; a failed check counts as no. */
export async function isChatAdmin(api: Api, log: Logger, chatId: number, userId: number): Promise<boolean> {
  try {
    const member = await api.getChatMember(chatId, userId);
    return member.status === 'creator' || member.status === 'administrator';
  } catch (err) {
    log.warn({ err: describeApiError(err), chatId }, 'could not check admin status');
    return false;
  }
}

/**
 * Whether `userId` may press the buttons of a job `requesterId` asked for: the requester, or, when
 * a chat asked (an anonymous admin posts as the group; a "send as" channel post), that chat's admins.
 * User ids are positive and chat ids negative, so the id says which it is.
 */
export async function mayActFor(deps: Pick<FeatureDeps, 'api' | 'log'>, chatId: number, requesterId: number, userId: number): Promise<boolean> {
  if (requesterId === userId) return true;
  return requesterId < 0 && isChatAdmin(deps.api, deps.log, chatId, userId);
}
