/** /style style: the default style of this server (managers only) or, in DMs, of the user. */
import { ApplicationIntegrationType, InteractionContextType, PermissionFlagsBits, SlashCommandBuilder } from 'discord.js';
import { AnimefyError } from '../../../errors.ts';
import { getStyle } from '../../../pipeline/styles.ts';
import { settingsKey, styleChoices, warning, type DiscordCommand } from './command.ts';

const data = new SlashCommandBuilder()
  .setName('style')
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

export const style: DiscordCommand = {
  type: 'slash',
  data: data.toJSON(),
  usage: '/style: set the default style here',
  async run(interaction, { settings }) {
    if (interaction.inGuild() && !interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) {
      await interaction.reply(warning(new AnimefyError('MANAGERS_ONLY')));
      return;
    }
    const picked = getStyle(interaction.options.getString('style', true));
    await settings.set(settingsKey(interaction), { style: picked.id });
    const where = interaction.inGuild() ? "this server's" : 'your';
    await interaction.reply({ content: `${picked.emoji} ${picked.label} is now ${where} default style (used by the Animefy message menu and when /animefy has no style).` });
  },
};
