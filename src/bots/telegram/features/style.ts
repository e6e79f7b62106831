/**
 * /style: a chat's default style (used when a caption names none). Private chats: the user; groups:
 * admins only (an anonymous admin posts as the group itself). Its keyboard sets the default too.
 */
import { Composer, type Api, type Context } from 'grammy';
import type { Logger } from 'pino';
import { AnimefyError } from '../../../errors.ts';
import { findStyle, getStyle, STYLE_IDS } from '../../../pipeline/styles.ts';
import { warningText } from '../../job-flow.ts';
import { replyTo } from '../jobs.ts';
import { defaultStyleKeyboard } from '../keyboards.ts';
import { defaultStyleSet } from '../messages.ts';
import { parseJobWords } from '../parse.ts';
import { answerAlert, answerExpired, chatKey, isChatAdmin, onButton, onCommand, type TelegramFeature } from './feature.ts';

/** Words that go back to asking every time. */
const ASK_WORDS = ['ask', 'none', 'off', 'reset'];

/** Private chats: the user. Groups: admins (an anonymous admin posts as the group itself). */
function maySetDefault(api: Api, log: Logger, chat: { id: number; type: string }, userId: number, senderChatId?: number): Promise<boolean> | boolean {
  if (chat.type === 'private' || senderChatId === chat.id) return true;
  return isChatAdmin(api, log, chat.id, userId);
}

export const style: TelegramFeature = {
  menu: [{ command: 'style', description: "Set this chat's default style" }],
  composer({ api, log, settings }) {
    const composer = new Composer<Context>();
    onCommand(composer, ['style'], async (ctx, message, args) => {
      const reply = replyTo(message.message_id);
      if (message.from && !(await maySetDefault(api, log, message.chat, message.from.id, message.sender_chat?.id))) {
        await ctx.reply(warningText(new AnimefyError('ADMINS_ONLY')), reply);
        return;
      }
      const key = chatKey(message.chat.id);
      const word = args.split(/\s+/)[0]?.toLowerCase() ?? '';
      if (!word) {
        const current = (await settings.get(key)).style;
        const now = current ? `Now: ${getStyle(current).emoji} ${getStyle(current).label}.` : 'Now: I ask every time.';
        await ctx.reply(`Pick this chat's default style. ${now}`, { ...reply, reply_markup: defaultStyleKeyboard() });
        return;
      }
      if (ASK_WORDS.includes(word)) {
        await settings.set(key, { style: undefined });
        await ctx.reply(defaultStyleSet(undefined), reply);
        return;
      }
      const picked = parseJobWords(word).style;
      if (!picked) {
        const error = new AnimefyError('UNKNOWN_STYLE', { style: word, styles: STYLE_IDS.join(', ') });
        await ctx.reply(error.message, { ...reply, reply_markup: defaultStyleKeyboard() });
        return;
      }
      await settings.set(key, { style: picked });
      await ctx.reply(defaultStyleSet(picked), reply);
    });

    onButton(composer, ['default'], async (ctx, action, message) => {
      const picked = action.style === 'ask' ? undefined : findStyle(action.style)?.id;
      if (action.style !== 'ask' && !picked) return void (await answerExpired(ctx));
      if (!(await maySetDefault(api, log, message.chat, ctx.callbackQuery!.from.id))) return void (await answerAlert(ctx, new AnimefyError('ADMINS_ONLY')));
      await settings.set(chatKey(message.chat.id), { style: picked });
      await ctx.answerCallbackQuery({ text: 'Saved.' });
      await ctx.api.editMessageText(message.chat.id, message.message_id, defaultStyleSet(picked)).catch(() => undefined);
    });
    return composer;
  },
};
