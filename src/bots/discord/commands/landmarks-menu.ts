/** The message context-menu entry "Landmarks": the face landmarks drawn on the message's picture, GIF or video. */
import { ApplicationCommandType, ContextMenuCommandBuilder } from 'discord.js';
import { findMessageMedia } from '../media.ts';
import { EVERYWHERE, INSTALLS, plainJob, warning, type DiscordCommand } from './command.ts';

export const landmarksMenu: DiscordCommand = {
  type: 'message',
  summary: "draws the face landmarks on its picture, GIF or video",
  data: new ContextMenuCommandBuilder().setName('Landmarks').setType(ApplicationCommandType.Message).setContexts(EVERYWHERE).setIntegrationTypes(INSTALLS).toJSON(),
  async run(interaction, { jobs, limits }) {
    const message = interaction.targetMessage;
    const snapshots = [...message.messageSnapshots.values()].map((m) => ({ attachments: m.attachments.values(), embeds: m.embeds }));
    const found = findMessageMedia({ attachments: message.attachments.values(), embeds: message.embeds, snapshots }, limits.mediaHosts);
    if ('refusal' in found) return void (await interaction.reply(warning(found.refusal)));
    await jobs.start(interaction, plainJob(found.media, false, { operation: 'landmarks' }));
  },
};
