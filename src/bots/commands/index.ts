/**
 * The text commands both bots answer (see info-command.ts). A new one is a file here and a line below.
 * Commands with platform-specific work (/animefy, /style, Telegram's /help, Discord's message menu)
 * live with each bot.
 */
import { about } from './about.ts';
import type { InfoCommand } from './info-command.ts';
import { styles } from './styles.ts';

export const INFO_COMMANDS: readonly InfoCommand[] = [styles, about];

/** The text command a name (or, on Telegram, an alias) stands for. */
export function findInfoCommand(name: string): InfoCommand | undefined {
  return INFO_COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}
