/**
 * /animefy: a photo, GIF, video, video message or sticker becomes anime. Private chats: any media.
 * Groups: only when addressed (/animefy in the caption, /animefy or a mention in a reply to media, a
 * mention in the caption). An album runs as one job with its caption's choices. Its buttons: the
 * style keyboard, and under results 🎨 Another style, 🙂 Keep faces / ✨ Anime faces, 🔍 Upscale,
 * 🗑 Delete and ✖ Cancel.
 *
 * The requester is the user, or the chat when `sender_chat` is set: an anonymous admin posts as the
 * group and a "send as" post as its channel, both with a placeholder `from` shared by everyone. Such a
 * job's limits are the chat's, and the chat's admins may press its buttons.
 */
import { Composer, type Context } from 'grammy';
import type { Message, UserFromGetMe } from 'grammy/types';
import { AnimefyError } from '../../../errors.ts';
import { DEFAULT_FACE_LOOK, DEFAULT_MODE, otherFaceLook, type FaceLook, type Mode, type UpscaleFactor } from '../../../pipeline/modes.ts';
import { findStyle } from '../../../pipeline/styles.ts';
import { warningText } from '../../job-flow.ts';
import { AlbumCollector } from '../albums.ts';
import { describeApiError } from '../api-error.ts';
import { checkDeclaredSize } from '../download.ts';
import { replyTo, type JobItem, type JobSpec } from '../jobs.ts';
import { styleKeyboard } from '../keyboards.ts';
import { findMedia } from '../media.ts';
import { NO_MEDIA_TEXT, pickStyleText } from '../messages.ts';
import { mentionsBot, parseCommand, parseJobWords, type ParsedCommand } from '../parse.ts';
import { answerAlert, answerExpired, chatKey, commandMedia, mayActFor, onButton, type FeatureDeps, type TelegramFeature } from './feature.ts';

/** How long after an album's latest item it is taken as complete. */
export const ALBUM_QUIET_MS = 1000;
/** Telegram lets bots delete messages for 48 hours after they were sent. */
const DELETE_WINDOW_S = 48 * 3600;

type JobChoices = { mode: Mode; upscale: UpscaleFactor; faces: FaceLook };

/** What a message (or an album's caption) asks of the bot. */
interface Request {
  /** Meant for this bot: a private chat, /animefy, or a mention. */
  addressed: boolean;
  choices: JobChoices;
  style?: string;
  /** A word that is no style, in a message that clearly asked for one. */
  unknown?: string;
}

function readRequest(message: Message, me: UserFromGetMe, command: ParsedCommand | undefined): Request {
  const text = message.text ?? message.caption;
  const isAnimefy = command?.name === 'animefy';
  const mentioned = mentionsBot(text, message.entities ?? message.caption_entities, me);
  const words = parseJobWords(isAnimefy ? command.args : (text ?? ''), me.username);
  // Unknown words only matter when the user clearly asked for something (a command or a mention).
  const unknown = (isAnimefy || mentioned) && words.unknown.length > 0 && !words.style ? words.unknown[0] : undefined;
  return {
    addressed: message.chat.type === 'private' || isAnimefy || mentioned,
    choices: { mode: words.mode ?? DEFAULT_MODE, upscale: words.upscale ?? 1, faces: words.faces ?? DEFAULT_FACE_LOOK },
    style: words.style,
    unknown,
  };
}

/** The forum topic a message is in (undefined outside forum topics). */
function topicOf(message: Message): number | undefined {
  return message.is_topic_message ? message.message_thread_id : undefined;
}

/** The user, or the chat that posted (anonymous admin, channel); undefined when neither is known. */
function requesterOf(message: Message): number | undefined {
  return message.sender_chat?.id ?? message.from?.id;
}

export const animefy: TelegramFeature = {
  menu: [{ command: 'animefy', description: 'Animefy a photo, GIF or video (in the caption, or as a reply)' }],
  composer(deps) {
    const composer = new Composer<Context>();
    const { jobs, refs, log } = deps;
    const albums = new AlbumCollector<UserFromGetMe>(ALBUM_QUIET_MS, (messages, me) => {
      onAlbum(deps, messages, me).catch((err: unknown) => log.error({ err: describeApiError(err), chatId: messages[0]?.chat.id }, 'album failed'));
    });

    composer.on('message', async (ctx, next) => {
      const message = ctx.message;
      const me = ctx.me;
      const command = parseCommand(message.text ?? message.caption, me.username);
      if (command?.forOtherBot) return;
      if (command && command.name !== 'animefy') return next(); // another feature's command (or none's)
      if (message.media_group_id && findMedia(message)) {
        albums.add(message, message.media_group_id, me); // handled with its other items, its caption decides
        return;
      }
      const request = readRequest(message, me, command);
      if (!request.addressed) return; // a group message not addressed to the bot: silence

      const { found, source } = commandMedia(message, me.id);
      if (!found || !source) {
        await ctx.reply(NO_MEDIA_TEXT, replyTo(message.message_id));
        return;
      }
      if ('refusal' in found) {
        await ctx.reply(warningText(found.refusal), replyTo(message.message_id));
        return;
      }
      try {
        checkDeclaredSize(found.media, deps.limits.downloadBytes);
      } catch (err) {
        // Said before any style is asked for: nothing can be done with this file.
        await ctx.reply(warningText(err), replyTo(message.message_id));
        return;
      }
      const requesterId = requesterOf(message);
      if (requesterId === undefined) return;
      await startOrAsk(deps, message.chat.id, requesterId, request, [{ media: found.media, sourceMessageId: source.message_id, threadId: topicOf(message) }]);
    });

    // A style from the keyboard: the job (or album) runs, its first item in the keyboard's message.
    onButton(composer, ['pick'], async (ctx, action, message) => {
      const ref = await refs.get(action.token);
      if (!ref) return void (await answerExpired(ctx));
      const from = ctx.callbackQuery!.from;
      if (ref.onlyRequester && !(await mayActFor(deps, ref.chatId, ref.requesterId, from.id))) {
        return void (await answerAlert(ctx, new AnimefyError('NOT_YOUR_BUTTON')));
      }
      const style = findStyle(action.style);
      if (!style) return void (await answerExpired(ctx));
      await ctx.answerCallbackQuery({ text: `${style.emoji} ${style.label} it is!` });
      if (ref.onlyRequester) await refs.delete(action.token); // the first pick uses the keyboard
      const items = [{ media: ref.media, sourceMessageId: ref.sourceMessageId, threadId: ref.threadId }, ...(ref.album ?? [])];
      const requesterId = ref.onlyRequester ? ref.requesterId : from.id;
      const choices = { mode: ref.mode, upscale: ref.upscale, faces: ref.faces, operation: ref.operation, person: ref.person };
      jobs.startAlbum(items.map((item, i) => spec(ref.chatId, requesterId, style.id, choices, item, i === 0 ? message.message_id : undefined)));
    });

    onButton(composer, ['again'], async (ctx, action, message) => {
      if (!(await refs.get(action.token))) return void (await answerExpired(ctx));
      await ctx.answerCallbackQuery();
      await ctx.api.sendMessage(message.chat.id, '🎨 Which style this time?', { ...replyTo(message.message_id), reply_markup: styleKeyboard(action.token) });
    });

    // The same input and style again: upscaled ×2, or with the other face look.
    onButton(composer, ['upscale', 'faces'], async (ctx, action) => {
      const ref = await refs.get(action.token);
      if (!ref) return void (await answerExpired(ctx));
      const upscale = action.action === 'upscale' ? 2 : ref.upscale;
      const faces = action.action === 'faces' ? otherFaceLook(ref.faces) : ref.faces;
      const text = action.action === 'upscale' ? '🔍 Upscaling ×2…' : faces === 'keep' ? '🙂 Keeping the faces…' : '✨ Anime faces…';
      await ctx.answerCallbackQuery({ text });
      jobs.start(spec(ref.chatId, ctx.callbackQuery!.from.id, ref.style, { mode: ref.mode, upscale, faces, operation: ref.operation, person: ref.person }, ref));
    });

    // A number (or All) under the people preview: the job it was for, on that person.
    onButton(composer, ['person'], async (ctx, action) => {
      const ref = await refs.get(action.token);
      if (!ref) return void (await answerExpired(ctx));
      if (!(await mayActFor(deps, ref.chatId, ref.requesterId, ctx.callbackQuery!.from.id))) {
        return void (await answerAlert(ctx, new AnimefyError('NOT_YOUR_BUTTON')));
      }
      const person = action.pick === 'all' ? 'all' : [action.pick];
      await ctx.answerCallbackQuery({ text: action.pick === 'all' ? '👥 Everyone' : `Person ${action.pick}` });
      const choices = { mode: ref.mode, upscale: ref.upscale, faces: ref.faces, operation: ref.operation ?? 'animefy', person } as const;
      jobs.start(spec(ref.chatId, ref.requesterId, ref.style, choices, ref));
    });

    // Answered once the message is gone (or could not go), so the answer says what happened.
    onButton(composer, ['delete'], async (ctx, action, message) => {
      if (!(await mayActFor(deps, message.chat.id, action.userId, ctx.callbackQuery!.from.id))) {
        return void (await answerAlert(ctx, new AnimefyError('NOT_YOUR_BUTTON')));
      }
      if ('date' in message && Date.now() / 1000 - message.date > DELETE_WINDOW_S) return void (await answerAlert(ctx, new AnimefyError('TOO_OLD_TO_DELETE')));
      try {
        await ctx.api.deleteMessage(message.chat.id, message.message_id);
        await ctx.answerCallbackQuery({ text: '🗑 Deleted.' });
      } catch (err) {
        log.debug({ err: describeApiError(err) }, 'delete failed');
        const gone = /message to delete not found/i.test(describeApiError(err));
        await ctx.answerCallbackQuery(gone ? { text: 'Already deleted.' } : { text: new AnimefyError('TOO_OLD_TO_DELETE').message, show_alert: true });
      }
    });

    onButton(composer, ['cancel'], async (ctx, action, message) => {
      const from = ctx.callbackQuery!.from.id;
      const owner = jobs.ownerOf(action.token);
      // A chat's job: its admins cancel it as the chat.
      const as = owner !== undefined && (await mayActFor(deps, message.chat.id, Number(owner), from)) ? owner : from;
      const outcome = await jobs.cancel(action.token, as);
      if (outcome === 'not-yours') return void (await answerAlert(ctx, new AnimefyError('NOT_YOUR_BUTTON')));
      await ctx.answerCallbackQuery({ text: outcome === 'cancelled' ? 'Cancelling…' : 'That one has already finished.' });
    });
    return composer;
  },
};

/** One item's job. */
function spec(
  chatId: number,
  requesterId: number,
  style: string,
  choices: JobChoices & Who,
  item: JobItem,
  statusMessageId?: number,
): JobSpec {
  const { media, sourceMessageId, threadId } = item;
  const { mode, upscale, faces } = choices;
  return { chatId, sourceMessageId, threadId, requester: { id: requesterId }, media, style, mode, upscale, faces, ...who(choices), statusMessageId };
}

type Who = Pick<JobSpec, 'operation' | 'person'>;

/**
 * Who a job is about. Erase keeps its person; person mode with a person chosen (a result's buttons)
 * keeps them; person mode without one first shows the numbered people preview to pick from.
 */
function who(choices: { mode: Mode } & Who): Pick<JobSpec, 'operation' | 'person' | 'pickFor'> {
  if (choices.operation === 'erase') return { operation: 'erase', person: choices.person };
  if (choices.mode !== 'person') return {};
  return choices.person ? { person: choices.person } : { operation: 'people', pickFor: 'animefy' };
}

/** Runs the items in the asked or default style, or asks once, on the first item, with a style keyboard. */
async function startOrAsk(
  deps: FeatureDeps,
  chatId: number,
  requesterId: number,
  request: Request,
  items: JobItem[],
): Promise<void> {
  const style = request.style ?? (request.unknown ? undefined : (await deps.settings.get(chatKey(chatId))).style);
  if (style) {
    deps.jobs.startAlbum(items.map((item) => spec(chatId, requesterId, style, request.choices, item)));
    return;
  }
  const [first, ...rest] = items;
  // Only the requester (or, for a chat, its admins) may pick.
  const token = await deps.refs.put({ ...request.choices, ...first, chatId, requesterId, style: '', onlyRequester: true, ...(rest.length ? { album: rest } : {}) });
  await deps.api.sendMessage(chatId, pickStyleText(request.unknown), { ...replyTo(first.sourceMessageId), reply_markup: styleKeyboard(token) });
}

/** A complete album: the captioned item says whether it is for us and with which choices. */
async function onAlbum(deps: FeatureDeps, messages: Message[], me: UserFromGetMe): Promise<void> {
  const captioned = messages.find((m) => m.caption !== undefined) ?? messages[0];
  const request = readRequest(captioned, me, parseCommand(captioned.caption, me.username));
  if (!request.addressed) return;
  const requesterId = requesterOf(captioned);
  if (requesterId === undefined) return;
  const items: JobItem[] = [];
  const refusals: string[] = [];
  for (const message of messages) {
    const found = findMedia(message);
    if (!found) continue;
    try {
      if ('refusal' in found) throw found.refusal;
      checkDeclaredSize(found.media, deps.limits.downloadBytes);
      items.push({ media: found.media, sourceMessageId: message.message_id, threadId: topicOf(message) });
    } catch (err) {
      refusals.push(`${warningText(err)} (item ${messages.indexOf(message) + 1})`);
    }
  }
  // Items that can't be used are said once, together; the others still run.
  if (refusals.length) await deps.api.sendMessage(captioned.chat.id, refusals.join('\n'), replyTo(captioned.message_id));
  if (items.length) await startOrAsk(deps, captioned.chat.id, requesterId, request, items);
}
