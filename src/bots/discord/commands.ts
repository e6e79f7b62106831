/**
 * The Discord application commands, built from the style and mode registries (one source for every
 * surface), and their registration: one bulk overwrite (PUT), so registering again with the same
 * commands changes nothing. Global commands reach every server the app is in; DISCORD_GUILD_ID
 * registers them in one server instead, where they appear at once (for development).
 */
import {
  ApplicationIntegrationType,
  ContextMenuCommandBuilder,
  ApplicationCommandType,
  InteractionContextType,
  PermissionFlagsBits,
  Routes,
  SlashCommandBuilder,
  type RESTPostAPIApplicationCommandsJSONBody,
  type REST,
} from 'discord.js';
import { MODES } from '../../pipeline/modes.ts';
import { STYLES } from '../../pipeline/styles.ts';
import { INFO_COMMANDS } from '../commands/index.ts';
import type { InfoCommand } from '../commands/info-command.ts';

export const COMMAND_NAMES = {
  animefy: 'animefy',
  style: 'style',
  /** The message context-menu entry (a display name: capitals and spaces allowed). */
  menu: 'Animefy',
} as const;

const EVERYWHERE = [InteractionContextType.Guild, InteractionContextType.BotDM, InteractionContextType.PrivateChannel];
const INSTALLS = [ApplicationIntegrationType.GuildInstall, ApplicationIntegrationType.UserInstall];

// No "(default)" mark: a server's own default (/style) may be another style.
const styleChoices = () => STYLES.map((s) => ({ name: `${s.emoji} ${s.label}`, value: s.id }));

/** Every command: /animefy, the shared text commands (src/bots/commands/), /style, the message menu. */
export function commandDefinitions(info: readonly InfoCommand[] = INFO_COMMANDS): RESTPostAPIApplicationCommandsJSONBody[] {
  const animefy = new SlashCommandBuilder()
    .setName(COMMAND_NAMES.animefy)
    .setDescription('Turn a photo, GIF or short video into anime')
    .setContexts(EVERYWHERE)
    .setIntegrationTypes(INSTALLS)
    .addAttachmentOption((o) => o.setName('image').setDescription('A photo, GIF or short video').setRequired(true))
    .addStringOption((o) =>
      o
        .setName('style')
        .setDescription("The look (default: this server's default style)")
        .addChoices(...styleChoices()),
    )
    .addStringOption((o) =>
      o
        .setName('mode')
        .setDescription('Which part to animefy (default: full)')
        .addChoices(...MODES.map((m) => ({ name: `${m.label}: ${m.description}`.slice(0, 100), value: m.id }))),
    )
    .addBooleanOption((o) => o.setName('upscale').setDescription('Upscale the result ×2 (pictures only)'))
    .addBooleanOption((o) => o.setName('keep_faces').setDescription('Faces keep their likeness instead of becoming anime faces'))
    .addBooleanOption((o) => o.setName('private').setDescription('Only you see the result'));

  const text = info.map((c) =>
    new SlashCommandBuilder().setName(c.name).setDescription(c.description).setContexts(EVERYWHERE).setIntegrationTypes(INSTALLS),
  );

  const style = new SlashCommandBuilder()
    .setName(COMMAND_NAMES.style)
    .setDescription('Set the default style here (used by the Animefy message menu)')
    .setContexts([InteractionContextType.Guild, InteractionContextType.BotDM])
    .setIntegrationTypes([ApplicationIntegrationType.GuildInstall])
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .addStringOption((o) =>
      o
        .setName('style')
        .setDescription('The default style')
        .setRequired(true)
        .addChoices(...styleChoices()),
    );

  const menu = new ContextMenuCommandBuilder()
    .setName(COMMAND_NAMES.menu)
    .setType(ApplicationCommandType.Message)
    .setContexts(EVERYWHERE)
    .setIntegrationTypes(INSTALLS);

  return [animefy.toJSON(), ...text.map((t) => t.toJSON()), style.toJSON(), menu.toJSON()];
}

/** Overwrites the application's commands (globally, or in one server) with ours. */
export async function registerCommands(rest: REST, appId: string, guildId?: string): Promise<{ count: number; scope: string }> {
  const route = guildId ? Routes.applicationGuildCommands(appId, guildId) : Routes.applicationCommands(appId);
  const body = commandDefinitions();
  const stored = (await rest.put(route, { body })) as unknown[];
  return { count: Array.isArray(stored) ? stored.length : body.length, scope: guildId ? `guild ${guildId}` : 'global' };
}
