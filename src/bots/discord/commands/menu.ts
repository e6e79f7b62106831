/** The message context-menu entry "Animefy": the message's picture (or a forwarded one's) in this server's default style. */
import { ApplicationCommandType, ContextMenuCommandBuilder } from 'discord.js';
import { DEFAULT_FACE_LOOK, DEFAULT_MODE } from '../../../pipeline/modes.ts';
import { findMessageMedia } from '../media.ts';
import { defaultStyle, EVERYWHERE, INSTALLS, warning, type DiscordCommand } from './command.ts';

export const menu: DiscordCommand = {
  type: 'message',
  summary: "animefies its picture, GIF or video with the server's default style",
  // A display name: capitals and spaces allowed.
  data: new ContextMenuCommandBuilder().setName('Animefy').setType(ApplicationCommandType.Message).setContexts(EVERYWHERE).setIntegrationTypes(INSTALLS).toJSON(),
  async run(interaction, { jobs, settings, limits }) {
    const message = interaction.targetMessage;
    const snapshots = [...message.messageSnapshots.values()].map((m) => ({ attachments: m.attachments.values(), embeds: m.embeds }));
    const found = findMessageMedia({ attachments: message.attachments.values(), embeds: message.embeds, snapshots }, limits.mediaHosts);
    if ('refusal' in found) {
      await interaction.reply(warning(found.refusal));
      return;
    }
    await jobs.start(interaction, { media: found.media, style: await defaultStyle(settings, interaction), mode: DEFAULT_MODE, upscale: 1, faces: DEFAULT_FACE_LOOK, private: false });
  },
};
