/**
 * /start and /help: how to use the bot, every feature's command, the limits. Registered last: in a
 * private chat it also answers a command no other feature took.
 */
import { Composer, type Context } from 'grammy';
import { formatBytes } from '../../../errors.ts';
import { modesText } from '../../about-text.ts';
import { replyTo } from '../jobs.ts';
import type { TelegramLimits } from '../jobs.ts';
import { parseCommand } from '../parse.ts';
import { onCommand, type MenuEntry, type TelegramFeature } from './feature.ts';

export function helpText(botUsername: string, limits: Pick<TelegramLimits, 'downloadBytes' | 'maxClipSeconds'>, menu: readonly MenuEntry[]): string {
  return [
    '👋 Send me a photo, a GIF, a short video, a video message or a sticker and I will turn it into anime.',
    '',
    'Pick a style from the buttons, or write it in the caption: "shinkai", or "/animefy shinkai person".',
    'Add "keep" to keep everyone\'s likeness instead of anime faces, or tap 🙂 Keep faces under a result.',
    `In groups, add /animefy@${botUsername} to the caption, or reply to someone's picture with /animefy@${botUsername}.`,
    `(A plain @${botUsername} mention or a bare /animefy reply reaches me only when I'm a group admin or my privacy mode is off.)`,
    '',
    ...menu.filter((m) => m.command !== 'animefy' && m.command !== 'help').map((m) => `/${m.command}: ${m.description}`),
    `Limits: files up to ${formatBytes(limits.downloadBytes)}; GIFs and videos up to ${limits.maxClipSeconds} s.`,
    '',
    modesText(),
  ].join('\n');
}

export const help: TelegramFeature = {
  menu: [{ command: 'help', description: 'How to use me' }],
  composer({ limits, menu }) {
    const composer = new Composer<Context>();
    const answer = (ctx: Context, messageId: number) => ctx.reply(helpText(ctx.me.username, limits, menu), replyTo(messageId));
    onCommand(composer, ['start', 'help'], async (ctx, message) => void (await answer(ctx, message.message_id)));
    // A command nobody took, in a private chat: the user is looking for one.
    composer.chatType('private').on(['message:text', 'message:caption'], async (ctx, next) => {
      const command = parseCommand(ctx.message.text ?? ctx.message.caption, ctx.me.username);
      if (!command || command.forOtherBot) return next();
      await answer(ctx, ctx.message.message_id);
    });
    return composer;
  },
};
