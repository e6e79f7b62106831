/** The shared text commands (src/bots/commands/: /styles, /about…) as one Telegram feature. */
import { Composer, type Context } from 'grammy';
import type { InfoCommand } from '../../commands/info-command.ts';
import { replyTo } from '../jobs.ts';
import { onCommand, type TelegramFeature } from './feature.ts';

export function infoFeature(commands: readonly InfoCommand[]): TelegramFeature {
  return {
    menu: commands.map((c) => ({ command: c.name, description: c.description })),
    composer() {
      const composer = new Composer<Context>();
      for (const command of commands) {
        onCommand(composer, [command.name, ...(command.aliases ?? [])], async (ctx, message) => {
          await ctx.reply(command.reply({ platform: 'telegram' }), replyTo(message.message_id));
        });
      }
      return composer;
    },
  };
}
