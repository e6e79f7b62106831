/** /landmarks image: private: each face's box, 68 points and contours drawn on every frame (anime faces too). */
import { SlashCommandBuilder } from 'discord.js';
import { fromAttachment } from '../media.ts';
import { EVERYWHERE, INSTALLS, plainJob, warning, type DiscordCommand } from './command.ts';

const data = new SlashCommandBuilder()
  .setName('landmarks')
  .setDescription('Draw the face landmarks on a photo, GIF or video')
  .setContexts(EVERYWHERE)
  .setIntegrationTypes(INSTALLS)
  .addAttachmentOption((o) => o.setName('image').setDescription('A photo, GIF or short video with faces').setRequired(true))
  .addBooleanOption((o) => o.setName('private').setDescription('Only you see the result'));

export const landmarks: DiscordCommand = {
  type: 'slash',
  data: data.toJSON(),
  usage: '/landmarks: face landmarks drawn on a photo, GIF or video, real and anime faces (or right-click a message → Apps → Landmarks)',
  async run(interaction, { jobs }) {
    const found = fromAttachment(interaction.options.getAttachment('image', true));
    if ('refusal' in found) return void (await interaction.reply(warning(found.refusal)));
    await jobs.start(interaction, plainJob(found.media, interaction.options.getBoolean('private') ?? false, { operation: 'landmarks' }));
  },
};
