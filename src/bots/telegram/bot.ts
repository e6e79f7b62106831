/**
 * The Telegram bot: one grammY `Bot` with its features registered in a visible order behind an error
 * boundary (one failing update never stops the bot). Media handling and jobs live in jobs.ts; this
 * file decides when the bot is addressed and what each command and button does.
 */
import { Bot, Composer, type Context } from 'grammy';
import type { Message } from 'grammy/types';
import type { Logger } from 'pino';
import { autoRetry } from '@grammyjs/auto-retry';
import { AnimefyError } from '../../errors.ts';
import { DEFAULT_FACE_LOOK, DEFAULT_MODE, otherFaceLook, type FaceLook, type Mode, type UpscaleFactor } from '../../pipeline/modes.ts';
import type { JobQueue } from '../../queue/types.ts';
import { findStyle, getStyle, STYLE_IDS } from '../../pipeline/styles.ts';
import type { ChatSettingsStore } from '../chat-settings.ts';
import { RateLimiter } from '../rate-limit.ts';
import { ReferenceStore } from '../references.ts';
import { findInfoCommand } from '../commands/index.ts';
import { REFERENCE_TTL_MS, requesterOnly, warningText } from '../job-flow.ts';
import { checkDeclaredSize } from './download.ts';
import { decodeCallback, defaultStyleKeyboard, styleKeyboard, type CallbackAction } from './keyboards.ts';
import { findMedia, type MediaRef } from './media.ts';
import { defaultStyleSet, helpText, NO_MEDIA_TEXT, pickStyleText } from './messages.ts';
import { mentionsBot, parseCommand, parseJobWords } from './parse.ts';
import { replyTo, TelegramJobs, type JobReference, type TelegramLimits } from './jobs.ts';
import { ChatPacer } from './status-message.ts';
import { describeApiError } from './api-error.ts';

export interface TelegramBotOptions {
  token: string;
  apiRoot: string;
  queue: JobQueue;
  settings: ChatSettingsStore;
  limits: TelegramLimits;
  rateLimit: { jobs: number; windowMs: number };
  log: Logger;
  /** Buttons under results work this long (default a day). */
  referenceTtlMs?: number;
  /** Minimum time between status edits in one chat (default 2 s). */
  editIntervalMs?: number;
}

export interface TelegramBot {
  bot: Bot;
  jobs: TelegramJobs;
}

export function createTelegramBot(options: TelegramBotOptions): TelegramBot {
  const { log } = options;
  const bot = new Bot(options.token, { client: { apiRoot: options.apiRoot, timeoutSeconds: 120 } });
  // 429 (flood control) and 5xx answers are retried after the delay Telegram asks for. Network
  // errors are not retried here (the plugin would retry them forever): polling retries on its own,
  // and a job whose reply cannot be sent is logged.
  bot.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 60, rethrowHttpErrors: true }));

  const refs = new ReferenceStore<JobReference>(options.referenceTtlMs ?? REFERENCE_TTL_MS);
  const jobs = new TelegramJobs({
    api: bot.api,
    apiRoot: options.apiRoot,
    token: options.token,
    queue: options.queue,
    limits: options.limits,
    rateLimiter: new RateLimiter(options.rateLimit.jobs, options.rateLimit.windowMs),
    refs,
    pacer: new ChatPacer(options.editIntervalMs ?? 2000),
    log,
  });
  const settings = options.settings;
  const chatKey = (chatId: number) => `telegram:${chatId}`;

  const guarded = bot.errorBoundary((err) => {
    log.error({ err: describeApiError(err.error), update: err.ctx.update.update_id }, 'update handler failed');
    // Whoever was talking to the bot still gets an answer.
    if (err.ctx.callbackQuery) void err.ctx.answerCallbackQuery().catch(() => undefined);
    else if (err.ctx.chat?.type === 'private') void err.ctx.reply(warningText(new AnimefyError('INTERNAL'))).catch(() => undefined);
  });

  guarded.use(commands());
  guarded.on('callback_query:data', (ctx) => onButton(ctx, decodeCallback(ctx.callbackQuery.data)));
  guarded.on('message', onMessage);

  /** /start, /help, /style and the shared text commands (in groups only when meant for this bot). */
  function commands(): Composer<Context> {
    const composer = new Composer<Context>();
    composer.on(['message:text', 'message:caption'], async (ctx, next) => {
      const message = ctx.message;
      const command = parseCommand(message.text ?? message.caption, ctx.me.username);
      if (!command || command.forOtherBot) return next();
      const isText = message.text !== undefined;
      switch (command.name) {
        case 'start':
        case 'help':
          if (!isText) return next();
          await ctx.reply(helpText(ctx.me.username, options.limits), replyTo(message.message_id));
          return;
        case 'style':
          if (!isText) return next();
          await setDefaultStyle(ctx, message, command.args);
          return;
        default: {
          const info = findInfoCommand(command.name);
          if (!info || !isText) return next();
          await ctx.reply(info.reply({ platform: 'telegram' }), replyTo(message.message_id));
          return;
        }
      }
    });
    return composer;
  }

  /** Private chats: the user. Groups: admins only (an anonymous admin posts as the group itself). */
  async function maySetDefault(chat: { id: number; type: string }, userId: number, senderChatId?: number): Promise<boolean> {
    if (chat.type === 'private' || senderChatId === chat.id) return true;
    try {
      const member = await bot.api.getChatMember(chat.id, userId);
      return member.status === 'creator' || member.status === 'administrator';
    } catch (err) {
      log.warn({ err: describeApiError(err), chatId: chat.id }, 'could not check admin status');
      return false;
    }
  }

  async function setDefaultStyle(ctx: Context, message: Message, args: string): Promise<void> {
    if (message.from && !(await maySetDefault(message.chat, message.from.id, message.sender_chat?.id))) {
      await ctx.reply(warningText(new AnimefyError('ADMINS_ONLY')), replyTo(message.message_id));
      return;
    }
    const word = args.split(/\s+/)[0]?.toLowerCase() ?? '';
    if (!word) {
      const current = settings.get(chatKey(message.chat.id)).style;
      const now = current ? `Now: ${getStyle(current).emoji} ${getStyle(current).label}.` : 'Now: I ask every time.';
      await ctx.reply(`Pick this chat's default style. ${now}`, { ...replyTo(message.message_id), reply_markup: defaultStyleKeyboard() });
      return;
    }
    if (['ask', 'none', 'off', 'reset'].includes(word)) {
      settings.set(chatKey(message.chat.id), { style: undefined });
      await ctx.reply(defaultStyleSet(undefined), replyTo(message.message_id));
      return;
    }
    const style = parseJobWords(word).style;
    if (!style) {
      await ctx.reply(`${new AnimefyError('UNKNOWN_STYLE', { style: word, styles: STYLE_IDS.join(', ') }).message}`, {
        ...replyTo(message.message_id),
        reply_markup: defaultStyleKeyboard(),
      });
      return;
    }
    settings.set(chatKey(message.chat.id), { style });
    await ctx.reply(defaultStyleSet(style), replyTo(message.message_id));
  }

  /**
   * A message that may be for us. Private chats: any media. Groups: only when addressed: /animefy in
   * the caption, /animefy (or a mention) in a reply to a media message, or a mention in the caption.
   */
  async function onMessage(ctx: Context): Promise<void> {
    const message = ctx.message!;
    const me = ctx.me;
    const isPrivate = message.chat.type === 'private';
    const text = message.text ?? message.caption;
    const command = parseCommand(text, me.username);
    if (command?.forOtherBot) return;
    const isAnimefy = command?.name === 'animefy';
    if (command && !isAnimefy && !isPrivate) return; // another command in a group: not ours to answer
    const mentioned = mentionsBot(text, message.entities ?? message.caption_entities, me);
    if (!isPrivate && !isAnimefy && !mentioned) return; // a group message not addressed to the bot: silence

    const own = findMedia(message);
    const replied = message.reply_to_message && message.reply_to_message.from?.id !== me.id ? findMedia(message.reply_to_message) : undefined;
    const found = own ?? replied;
    const source = own ? message : message.reply_to_message;
    if (!found || !source) {
      await ctx.reply(command && !isAnimefy ? helpText(me.username, options.limits) : NO_MEDIA_TEXT, replyTo(message.message_id));
      return;
    }
    if ('refusal' in found) {
      await ctx.reply(warningText(found.refusal), replyTo(message.message_id));
      return;
    }

    try {
      checkDeclaredSize(found.media, options.limits.downloadBytes);
    } catch (err) {
      // Said before any style is asked for: nothing can be done with this file.
      await ctx.reply(warningText(err), replyTo(message.message_id));
      return;
    }

    const words = parseJobWords(isAnimefy ? command.args : (text ?? ''), me.username);
    // Unknown words only matter when the user clearly asked for something (a command or a mention).
    const unknown = (isAnimefy || mentioned) && words.unknown.length > 0 && !words.style ? words.unknown[0] : undefined;
    const requester = message.from;
    if (!requester) return; // anonymous admins and channels: no one to answer to
    const style = words.style ?? (unknown ? undefined : settings.get(chatKey(message.chat.id)).style);
    const job = { media: found.media, mode: words.mode ?? DEFAULT_MODE, upscale: words.upscale ?? 1, faces: words.faces ?? DEFAULT_FACE_LOOK };
    if (!style) {
      await askForStyle(ctx, source.message_id, requester.id, job, unknown);
      return;
    }
    jobs.start({ chatId: message.chat.id, sourceMessageId: source.message_id, requester: { id: requester.id }, style, ...job });
  }

  async function askForStyle(
    ctx: Context,
    sourceMessageId: number,
    requesterId: number,
    job: { media: MediaRef; mode: Mode; upscale: UpscaleFactor; faces: FaceLook },
    unknown?: string,
  ): Promise<void> {
    const chatId = ctx.chat!.id;
    const token = refs.put({ ...job, chatId, sourceMessageId, requesterId, style: '', onlyRequester: true });
    await ctx.api.sendMessage(chatId, pickStyleText(unknown), { ...replyTo(sourceMessageId), reply_markup: styleKeyboard(token) });
  }

  async function onButton(ctx: Context, action: CallbackAction | undefined): Promise<void> {
    const query = ctx.callbackQuery!;
    const message = query.message;
    const expired = () => ctx.answerCallbackQuery({ text: new AnimefyError('BUTTON_EXPIRED').message, show_alert: true });
    if (!action || !message) return void (await expired());
    switch (action.action) {
      case 'pick': {
        const ref = refs.get(action.token);
        if (!ref) return void (await expired());
        const notYours = ref.onlyRequester ? requesterOnly(ref.requesterId, query.from.id) : undefined;
        if (notYours) return void (await ctx.answerCallbackQuery({ text: notYours.message, show_alert: true }));
        const style = findStyle(action.style);
        if (!style) return void (await expired());
        await ctx.answerCallbackQuery({ text: `${style.emoji} ${style.label} it is!` });
        if (ref.onlyRequester) refs.delete(action.token); // the first pick uses the keyboard
        jobs.start({
          chatId: ref.chatId,
          sourceMessageId: ref.sourceMessageId,
          requester: { id: query.from.id },
          media: ref.media,
          style: style.id,
          mode: ref.mode,
          upscale: ref.upscale,
          faces: ref.faces,
          statusMessageId: message.message_id,
        });
        return;
      }
      case 'again': {
        const ref = refs.get(action.token);
        if (!ref) return void (await expired());
        await ctx.answerCallbackQuery();
        await ctx.api.sendMessage(message.chat.id, '🎨 Which style this time?', {
          ...replyTo(message.message_id),
          reply_markup: styleKeyboard(action.token),
        });
        return;
      }
      case 'upscale':
      case 'faces': {
        const ref = refs.get(action.token);
        if (!ref) return void (await expired());
        // The same input and style again: upscaled ×2, or with the other face look.
        const upscale = action.action === 'upscale' ? 2 : ref.upscale;
        const faces = action.action === 'faces' ? otherFaceLook(ref.faces) : ref.faces;
        const text = action.action === 'upscale' ? '🔍 Upscaling ×2…' : faces === 'keep' ? '🙂 Keeping the faces…' : '✨ Anime faces…';
        await ctx.answerCallbackQuery({ text });
        jobs.start({
          chatId: ref.chatId,
          sourceMessageId: ref.sourceMessageId,
          requester: { id: query.from.id },
          media: ref.media,
          style: ref.style,
          mode: ref.mode,
          upscale,
          faces,
        });
        return;
      }
      case 'delete': {
        const notYours = requesterOnly(action.userId, query.from.id);
        if (notYours) return void (await ctx.answerCallbackQuery({ text: notYours.message, show_alert: true }));
        await ctx.answerCallbackQuery({ text: '🗑 Deleted.' });
        await ctx.api.deleteMessage(message.chat.id, message.message_id).catch((err) => log.debug({ err: describeApiError(err) }, 'delete failed'));
        return;
      }
      case 'cancel': {
        const outcome = await jobs.cancel(action.token, query.from.id);
        if (outcome === 'not-yours') {
          return void (await ctx.answerCallbackQuery({ text: new AnimefyError('NOT_YOUR_BUTTON').message, show_alert: true }));
        }
        await ctx.answerCallbackQuery({ text: outcome === 'cancelled' ? 'Cancelling…' : 'That one has already finished.' });
        return;
      }
      case 'default': {
        const style = action.style === 'ask' ? undefined : findStyle(action.style)?.id;
        if (action.style !== 'ask' && !style) return void (await expired());
        if (!(await maySetDefault(message.chat, query.from.id))) {
          return void (await ctx.answerCallbackQuery({ text: new AnimefyError('ADMINS_ONLY').message, show_alert: true }));
        }
        settings.set(chatKey(message.chat.id), { style });
        await ctx.answerCallbackQuery({ text: 'Saved.' });
        await ctx.api.editMessageText(message.chat.id, message.message_id, defaultStyleSet(style)).catch(() => undefined);
        return;
      }
    }
  }

  return { bot, jobs };
}
