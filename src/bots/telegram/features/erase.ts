/**
 * /erase: removes a person from a photo and rebuilds the background behind them. In the caption of
 * a photo, or as a reply to one (`/erase@ThisBot` in groups, which privacy mode delivers). With
 * several people the numbered preview comes first, with a button per person; with one, it goes
 * straight on. Photos only: a GIF or video gets a clear refusal from the pipeline.
 */
import { Composer, type Context } from 'grammy';
import { DEFAULT_FACE_LOOK, DEFAULT_MODE } from '../../../pipeline/modes.ts';
import { parsePersonChoice, type PersonChoice } from '../../../pipeline/person-choice.ts';
import { DEFAULT_STYLE } from '../../../pipeline/styles.ts';
import { warningText } from '../../job-flow.ts';
import { checkDeclaredSize } from '../download.ts';
import { replyTo } from '../jobs.ts';
import { findMedia } from '../media.ts';
import { parseCommand } from '../parse.ts';
import type { TelegramFeature } from './feature.ts';

const NO_PHOTO_TEXT = 'Send /erase as the caption of a photo, or reply to a photo with /erase. I show who is in it, then you pick who goes.';

export const erase: TelegramFeature = {
  menu: [{ command: 'erase', description: 'Remove a person from a photo (caption or reply)' }],
  composer(deps) {
    const composer = new Composer<Context>();
    composer.on('message', async (ctx, next) => {
      const message = ctx.message;
      const command = parseCommand(message.text ?? message.caption, ctx.me.username);
      if (!command || command.forOtherBot || command.name !== 'erase') return next();
      const own = findMedia(message);
      const replied = message.reply_to_message && message.reply_to_message.from?.id !== ctx.me.id ? findMedia(message.reply_to_message) : undefined;
      const found = own ?? replied;
      const source = own ? message : message.reply_to_message;
      if (!found || !source) return void (await ctx.reply(NO_PHOTO_TEXT, replyTo(message.message_id)));
      if ('refusal' in found) return void (await ctx.reply(warningText(found.refusal), replyTo(message.message_id)));
      const requesterId = message.sender_chat?.id ?? message.from?.id;
      if (requesterId === undefined) return;
      // "/erase 2" picks at once; otherwise the preview asks.
      let person: PersonChoice | undefined;
      try {
        checkDeclaredSize(found.media, deps.limits.downloadBytes);
        if (command.args) person = parsePersonChoice(command.args);
      } catch (err) {
        return void (await ctx.reply(warningText(err), replyTo(message.message_id)));
      }
      deps.jobs.start({
        chatId: message.chat.id,
        sourceMessageId: source.message_id,
        threadId: message.is_topic_message ? message.message_thread_id : undefined,
        requester: { id: requesterId },
        media: found.media,
        style: DEFAULT_STYLE,
        mode: DEFAULT_MODE,
        upscale: 1,
        faces: DEFAULT_FACE_LOOK,
        ...(person ? { operation: 'erase', person } : { operation: 'people', pickFor: 'erase' }),
      });
    });
    return composer;
  },
};
