/** A command as a contributor would add one: this file, plus a line in INFO_COMMANDS. */
import type { InfoCommand } from '#src/bots/commands/info-command.ts';

export const ping: InfoCommand = {
  name: 'ping',
  description: 'Check that I am awake',
  reply: ({ platform }) => `🏓 Pong from ${platform}.`,
};
