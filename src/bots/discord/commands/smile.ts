/** /smile image: amount: private: the faces of a photo, GIF or video made to smile; still real. */
import { SlashCommandBuilder } from 'discord.js';
import { DEFAULT_SMILE_AMOUNT } from '../../../pipeline/modes.ts';
import { fromAttachment } from '../media.ts';
import { EVERYWHERE, INSTALLS, plainJob, warning, type DiscordCommand } from './command.ts';

const data = new SlashCommandBuilder()
  .setName('smile')
  .setDescription('Make the faces in a photo, GIF or video smile')
  .setContexts(EVERYWHERE)
  .setIntegrationTypes(INSTALLS)
  .addAttachmentOption((o) => o.setName('image').setDescription('A photo, GIF or short video with faces').setRequired(true))
  .addIntegerOption((o) => o.setName('amount').setDescription(`How much, in percent (default: ${DEFAULT_SMILE_AMOUNT * 100})`).setMinValue(0).setMaxValue(100))
  .addBooleanOption((o) => o.setName('private').setDescription('Only you see the result'));

export const smile: DiscordCommand = {
  type: 'slash',
  data: data.toJSON(),
  usage: '/smile: make the faces smile (a real photo, GIF or video comes back, still real)',
  async run(interaction, { jobs }) {
    const found = fromAttachment(interaction.options.getAttachment('image', true));
    if ('refusal' in found) return void (await interaction.reply(warning(found.refusal)));
    const percent = interaction.options.getInteger('amount');
    const hidden = interaction.options.getBoolean('private') ?? false;
    await jobs.start(interaction, plainJob(found.media, hidden, { operation: 'smile', extras: { smile: percent === null ? DEFAULT_SMILE_AMOUNT : percent / 100 } }));
  },
};
