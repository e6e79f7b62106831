/**
 * A command both bots answer with text: one file under src/bots/commands/ and one line in
 * `INFO_COMMANDS` (index.ts) add it to Telegram (command menu, /help, the handler) and to Discord
 * (a registered slash command, the usage text in /about, the handler).
 */
export interface InfoContext {
  platform: 'telegram' | 'discord';
  /** Discord has no /help: its how-to-use text (commands and limits), for /about to start with. */
  usage?: string;
}

export interface InfoCommand {
  /** Lower case letters, digits and underscores (both platforms' rule); no slash. */
  name: string;
  /** One line: Telegram's command menu, Discord's command description, both help texts (≤ 100 chars). */
  description: string;
  /** Other names Telegram also answers to (Discord has no aliases). */
  aliases?: readonly string[];
  /** The answer, plain text (each platform sends it as is). */
  reply(context: InfoContext): string;
}

/** Both platforms' rule for a command name. */
export const COMMAND_NAME = /^[a-z0-9_]{1,32}$/;

/** "/name: description" lines, for the help texts. */
export function commandLines(commands: readonly InfoCommand[]): string[] {
  return commands.map((c) => `/${c.name}: ${c.description}`);
}
