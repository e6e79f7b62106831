/** A shared text command (src/bots/commands/: /styles, /about…) as a Discord slash command. */
import { SlashCommandBuilder } from 'discord.js';
import type { InfoCommand } from '../../commands/info-command.ts';
import { ephemeral, EVERYWHERE, INSTALLS, type DiscordCommand } from './command.ts';

export function infoCommand(command: InfoCommand): DiscordCommand {
  return {
    type: 'slash',
    data: new SlashCommandBuilder().setName(command.name).setDescription(command.description).setContexts(EVERYWHERE).setIntegrationTypes(INSTALLS).toJSON(),
    usage: `/${command.name}: ${command.description}`,
    async run(interaction, { usage }) {
      await interaction.reply(ephemeral(command.reply({ platform: 'discord', usage })));
    },
  };
}
