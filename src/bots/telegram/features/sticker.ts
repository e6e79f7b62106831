/**
 * /sticker and /emoji, as the caption of a photo (or GIF, video: its first frame) or in a reply to
 * one. /sticker [style] [body] answers with a die-cut sticker (sendSticker, 512 px WebP); /emoji
 * [effect] [caption] with a video sticker (WebM VP9 with transparency). Under each: ✨ Animate it or
 * 🔁 Another effect, ➕ Add to my pack (the presser's own pack, created on the first press) and 🗑 Delete.
 */
import { Composer, type Context } from 'grammy';
import { AnimefyError } from '../../../errors.ts';
import { checkCaption } from '../../../pipeline/caption.ts';
import { DEFAULT_EMOJI_EFFECT, EMOJI_EFFECT_IDS, EMOJI_EFFECTS } from '../../../pipeline/emoji-effects.ts';
import { DEFAULT_STYLE, findStyle } from '../../../pipeline/styles.ts';
import { describeApiError } from '../api-error.ts';
import { nextEffect, type JobExtras } from '../../job-flow.ts';
import type { JobSpec } from '../jobs.ts';
import { addToMyPack } from '../sticker-pack.ts';
import { answerAlert, answerExpired, chatKey, jobFor, onButton, onMediaCommand, type FeatureDeps, type MediaCommand, type TelegramFeature } from './feature.ts';

const STICKER_USAGE = 'Send /sticker as the caption of a photo, or reply to a photo with /sticker. Add a style (/sticker cartoon) or "body" for the whole person.';
const EMOJI_USAGE = `Send /emoji as the caption of a photo, or reply to a photo with /emoji. Add an effect and a short caption: /emoji hearts gm. Effects: ${EMOJI_EFFECT_IDS.join(', ')}.`;

/** The emoji a sticker is filed under in a pack (Telegram asks for 1–20): still, or animated. */
const PACK_EMOJI = { static: '😊', video: '😄' } as const;

export const sticker: TelegramFeature = {
  menu: [
    { command: 'sticker', description: 'A cut-out cartoon sticker of the person (caption or reply)' },
    { command: 'emoji', description: `An animated sticker: ${EMOJI_EFFECT_IDS.join(', ')} (caption or reply)` },
  ],
  composer(deps) {
    const composer = new Composer<Context>();
    onMediaCommand(composer, deps, ['sticker'], STICKER_USAGE, async (command) => {
      const words = command.args.split(/[\s,]+/).filter(Boolean);
      let style: string | undefined;
      let body = false;
      for (const word of words) {
        const found = findStyle(word);
        if (/^(body|full|whole)$/i.test(word)) body = true;
        else if (found && !style) style = found.id;
        else throw new AnimefyError('BAD_OPTION', { detail: `I don't know "${word}" here. ${STICKER_USAGE}` });
      }
      deps.jobs.start(await stickerSpec(deps, command, 'sticker', style, body ? { body } : {}));
    });

    onMediaCommand(composer, deps, ['emoji'], EMOJI_USAGE, async (command) => {
      // "/emoji hearts gm": an effect first, then the caption; "/emoji gm" is a caption with the default effect.
      const [first = '', ...rest] = command.args.trim().split(/\s+/);
      const effect = EMOJI_EFFECTS.find((e) => e.id === first.toLowerCase())?.id;
      const text = (effect ? rest.join(' ') : command.args).trim();
      const extras: JobExtras = { effect: effect ?? DEFAULT_EMOJI_EFFECT, ...(text ? { text: checkCaption(text) } : {}) };
      deps.jobs.start(await stickerSpec(deps, command, 'emoji', undefined, extras));
    });

    // ✨ Animate it (under a sticker) or 🔁 Another effect (under an emoji): the same photo, the next effect.
    onButton(composer, ['effect'], async (ctx, action) => {
      const ref = await deps.refs.get(action.token);
      if (!ref) return void (await answerExpired(ctx));
      const effect = nextEffect(ref.operation === 'emoji' ? ref.extras?.effect : undefined);
      const label = EMOJI_EFFECTS.find((e) => e.id === effect)!;
      await ctx.answerCallbackQuery({ text: `${label.emoji} ${label.label}…` });
      deps.jobs.start({
        chatId: ref.chatId,
        sourceMessageId: ref.sourceMessageId,
        threadId: ref.threadId,
        requester: { id: ctx.callbackQuery!.from.id },
        media: ref.media,
        style: ref.style,
        mode: ref.mode,
        upscale: 1,
        faces: ref.faces,
        operation: 'emoji',
        extras: { ...ref.extras, effect },
      });
    });

    // ➕ Add to my pack: whoever presses gets the sticker in their own pack.
    onButton(composer, ['pack'], async (ctx, _action, message) => {
      const from = ctx.callbackQuery!.from;
      const file = 'sticker' in message ? message.sticker : undefined;
      if (!file) return void (await answerExpired(ctx));
      try {
        const added = await addToMyPack(ctx.api, {
          userId: from.id,
          botUsername: ctx.me.username,
          firstName: from.first_name,
          sticker: file.file_id,
          format: file.is_video ? 'video' : 'static',
          emoji: [PACK_EMOJI[file.is_video ? 'video' : 'static']],
        });
        await ctx.answerCallbackQuery({ text: added.created ? `➕ Made your pack with this sticker! I sent you the link.` : `➕ Added: your pack has ${added.count} stickers.` });
        await ctx.api.sendMessage(from.id, `Your stickers: ${added.url}`).catch((err: unknown) => {
          deps.log.debug({ err: describeApiError(err) }, 'could not send the pack link');
        });
      } catch (err) {
        if (!(err instanceof AnimefyError)) deps.log.error({ err: describeApiError(err), userId: from.id }, 'adding a sticker to a pack failed');
        await answerAlert(ctx, err instanceof AnimefyError ? err : new AnimefyError('INTERNAL'));
      }
    });
    return composer;
  },
};

/** A sticker or emoji job on the command's media, in the asked style, else the chat's, else the default. */
async function stickerSpec(deps: FeatureDeps, command: MediaCommand, operation: 'sticker' | 'emoji', style: string | undefined, extras: JobExtras): Promise<JobSpec> {
  const chatStyle = (await deps.settings.get(chatKey(command.message.chat.id))).style;
  return jobFor(command, { operation, extras, style: style ?? chatStyle ?? DEFAULT_STYLE });
}
