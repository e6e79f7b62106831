/**
 * The Discord application commands, one file each (command.ts says the shape), and their
 * registration: one bulk overwrite (PUT), so registering again with the same commands changes
 * nothing. Global commands reach every server the app is in; DISCORD_GUILD_ID registers them in one
 * server instead, where they appear at once (for development).
 */
import { Routes, type RESTPostAPIApplicationCommandsJSONBody, type REST } from 'discord.js';
import { formatBytes } from '../../../errors.ts';
import { INFO_COMMANDS } from '../../commands/index.ts';
import type { InfoCommand } from '../../commands/info-command.ts';
import type { DiscordLimits } from '../jobs.ts';
import { animefy } from './animefy.ts';
import type { DiscordCommand } from './command.ts';
import { emoji } from './emoji.ts';
import { erase } from './erase.ts';
import { infoCommand } from './info.ts';
import { landmarks } from './landmarks.ts';
import { landmarksMenu } from './landmarks-menu.ts';
import { menu } from './menu.ts';
import { result } from './result.ts';
import { smile } from './smile.ts';
import { sticker } from './sticker.ts';
import { style } from './style.ts';

/** Every command, in the order of the usage text: a new command is a file and a line here. */
export function discordCommands(info: readonly InfoCommand[] = INFO_COMMANDS): DiscordCommand[] {
  return [animefy, erase, sticker, emoji, smile, landmarks, style, result, ...info.map(infoCommand), menu, landmarksMenu];
}

export function commandDefinitions(commands: readonly DiscordCommand[] = discordCommands()): RESTPostAPIApplicationCommandsJSONBody[] {
  return commands.map((c) => c.data);
}

/** How to use the bot here, with the real limits (Discord has no /help: /about starts with this). */
export function usageText(limits: Pick<DiscordLimits, 'inputBytes' | 'maxClipSeconds'>, commands: readonly DiscordCommand[] = discordCommands()): string {
  return [
    ...commands.flatMap((c) => (c.usage ? [c.usage] : [])),
    `Limits: files up to ${formatBytes(limits.inputBytes)}; GIFs and videos up to ${limits.maxClipSeconds} s.`,
  ].join('\n');
}

/** Overwrites the application's commands (globally, or in one server) with ours. */
export async function registerCommands(rest: REST, appId: string, guildId?: string): Promise<{ count: number; scope: string }> {
  const route = guildId ? Routes.applicationGuildCommands(appId, guildId) : Routes.applicationCommands(appId);
  const body = commandDefinitions();
  const stored = (await rest.put(route, { body })) as unknown[];
  return { count: Array.isArray(stored) ? stored.length : body.length, scope: guildId ? `guild ${guildId}` : 'global' };
}
