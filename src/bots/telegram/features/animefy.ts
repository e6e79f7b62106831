/**
 * /animefy: a photo, GIF, video, video message or sticker becomes anime. Private chats: any media.
 * Groups: only when addressed (/animefy in the caption, /animefy or a mention in a reply to media, a
 * mention in the caption). Its buttons: the style keyboard, and under results 🎨 Another style,
 * 🙂 Keep faces / ✨ Anime faces, 🔍 Upscale, 🗑 Delete and ✖ Cancel.
 */
import { Composer, type Context } from 'grammy';
import { AnimefyError } from '../../../errors.ts';
import { DEFAULT_FACE_LOOK, DEFAULT_MODE, otherFaceLook, type FaceLook, type Mode, type UpscaleFactor } from '../../../pipeline/modes.ts';
import { findStyle } from '../../../pipeline/styles.ts';
import { requesterOnly, warningText } from '../../job-flow.ts';
import { describeApiError } from '../api-error.ts';
import { checkDeclaredSize } from '../download.ts';
import { replyTo } from '../jobs.ts';
import { styleKeyboard } from '../keyboards.ts';
import { findMedia, type MediaRef } from '../media.ts';
import { NO_MEDIA_TEXT, pickStyleText } from '../messages.ts';
import { mentionsBot, parseCommand, parseJobWords } from '../parse.ts';
import { answerAlert, answerExpired, chatKey, onButton, type TelegramFeature } from './feature.ts';

type JobChoices = { media: MediaRef; mode: Mode; upscale: UpscaleFactor; faces: FaceLook };

export const animefy: TelegramFeature = {
  menu: [{ command: 'animefy', description: 'Animefy a photo, GIF or video (in the caption, or as a reply)' }],
  composer(deps) {
    const composer = new Composer<Context>();
    const { jobs, refs, log } = deps;

    composer.on('message', async (ctx, next) => {
      const message = ctx.message;
      const me = ctx.me;
      const isPrivate = message.chat.type === 'private';
      const text = message.text ?? message.caption;
      const command = parseCommand(text, me.username);
      if (command?.forOtherBot) return;
      const isAnimefy = command?.name === 'animefy';
      if (command && !isAnimefy) return next(); // another feature's command (or none's)
      const mentioned = mentionsBot(text, message.entities ?? message.caption_entities, me);
      if (!isPrivate && !isAnimefy && !mentioned) return; // a group message not addressed to the bot: silence

      const own = findMedia(message);
      const replied = message.reply_to_message && message.reply_to_message.from?.id !== me.id ? findMedia(message.reply_to_message) : undefined;
      const found = own ?? replied;
      const source = own ? message : message.reply_to_message;
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

      const words = parseJobWords(isAnimefy ? command.args : (text ?? ''), me.username);
      // Unknown words only matter when the user clearly asked for something (a command or a mention).
      const unknown = (isAnimefy || mentioned) && words.unknown.length > 0 && !words.style ? words.unknown[0] : undefined;
      const requester = message.from;
      if (!requester) return; // anonymous admins and channels: no one to answer to
      const style = words.style ?? (unknown ? undefined : deps.settings.get(chatKey(message.chat.id)).style);
      const job: JobChoices = { media: found.media, mode: words.mode ?? DEFAULT_MODE, upscale: words.upscale ?? 1, faces: words.faces ?? DEFAULT_FACE_LOOK };
      if (!style) {
        // Ask, on the media itself; only the requester may pick.
        const token = refs.put({ ...job, chatId: message.chat.id, sourceMessageId: source.message_id, requesterId: requester.id, style: '', onlyRequester: true });
        await ctx.api.sendMessage(message.chat.id, pickStyleText(unknown), { ...replyTo(source.message_id), reply_markup: styleKeyboard(token) });
        return;
      }
      jobs.start({ chatId: message.chat.id, sourceMessageId: source.message_id, requester: { id: requester.id }, style, ...job });
    });

    // A style from the keyboard: the job runs in the keyboard's message.
    onButton(composer, ['pick'], async (ctx, action, message) => {
      const ref = refs.get(action.token);
      if (!ref) return void (await answerExpired(ctx));
      const from = ctx.callbackQuery!.from;
      const notYours = ref.onlyRequester ? requesterOnly(ref.requesterId, from.id) : undefined;
      if (notYours) return void (await answerAlert(ctx, notYours));
      const style = findStyle(action.style);
      if (!style) return void (await answerExpired(ctx));
      await ctx.answerCallbackQuery({ text: `${style.emoji} ${style.label} it is!` });
      if (ref.onlyRequester) refs.delete(action.token); // the first pick uses the keyboard
      jobs.start({
        chatId: ref.chatId,
        sourceMessageId: ref.sourceMessageId,
        requester: { id: from.id },
        media: ref.media,
        style: style.id,
        mode: ref.mode,
        upscale: ref.upscale,
        faces: ref.faces,
        statusMessageId: message.message_id,
      });
    });

    onButton(composer, ['again'], async (ctx, action, message) => {
      if (!refs.get(action.token)) return void (await answerExpired(ctx));
      await ctx.answerCallbackQuery();
      await ctx.api.sendMessage(message.chat.id, '🎨 Which style this time?', { ...replyTo(message.message_id), reply_markup: styleKeyboard(action.token) });
    });

    // The same input and style again: upscaled ×2, or with the other face look.
    onButton(composer, ['upscale', 'faces'], async (ctx, action) => {
      const ref = refs.get(action.token);
      if (!ref) return void (await answerExpired(ctx));
      const upscale = action.action === 'upscale' ? 2 : ref.upscale;
      const faces = action.action === 'faces' ? otherFaceLook(ref.faces) : ref.faces;
      const text = action.action === 'upscale' ? '🔍 Upscaling ×2…' : faces === 'keep' ? '🙂 Keeping the faces…' : '✨ Anime faces…';
      await ctx.answerCallbackQuery({ text });
      const { media, style, mode } = ref;
      jobs.start({ chatId: ref.chatId, sourceMessageId: ref.sourceMessageId, requester: { id: ctx.callbackQuery!.from.id }, media, style, mode, upscale, faces });
    });

    onButton(composer, ['delete'], async (ctx, action, message) => {
      const notYours = requesterOnly(action.userId, ctx.callbackQuery!.from.id);
      if (notYours) return void (await answerAlert(ctx, notYours));
      await ctx.answerCallbackQuery({ text: '🗑 Deleted.' });
      await ctx.api.deleteMessage(message.chat.id, message.message_id).catch((err) => log.debug({ err: describeApiError(err) }, 'delete failed'));
    });

    onButton(composer, ['cancel'], async (ctx, action) => {
      const outcome = await jobs.cancel(action.token, ctx.callbackQuery!.from.id);
      if (outcome === 'not-yours') return void (await answerAlert(ctx, new AnimefyError('NOT_YOUR_BUTTON')));
      await ctx.answerCallbackQuery({ text: outcome === 'cancelled' ? 'Cancelling…' : 'That one has already finished.' });
    });
    return composer;
  },
};
