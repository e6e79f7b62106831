/**
 * /sticker image: style: body: private: a die-cut cartoon sticker of the person, as the two files a
 * server takes: a 320 px sticker PNG and a 128 px emoji PNG (Server Settings → Stickers / Emoji).
 * A GIF or video's first frame is used.
 */
import { SlashCommandBuilder } from 'discord.js';
import { DEFAULT_FACE_LOOK, DEFAULT_MODE } from '../../../pipeline/modes.ts';
import { findStyle } from '../../../pipeline/styles.ts';
import { fromAttachment } from '../media.ts';
import { defaultStyle, EVERYWHERE, INSTALLS, styleChoices, warning, type DiscordCommand } from './command.ts';

const data = new SlashCommandBuilder()
  .setName('sticker')
  .setDescription('A cut-out cartoon sticker of the person in a photo')
  .setContexts(EVERYWHERE)
  .setIntegrationTypes(INSTALLS)
  .addAttachmentOption((o) => o.setName('image').setDescription('A photo of someone').setRequired(true))
  .addStringOption((o) => o.setName('style').setDescription("The look (default: this server's default style)").addChoices(...styleChoices()))
  .addBooleanOption((o) => o.setName('body').setDescription('The whole person instead of the face and shoulders'))
  .addBooleanOption((o) => o.setName('private').setDescription('Only you see the result'));

export const sticker: DiscordCommand = {
  type: 'slash',
  data: data.toJSON(),
  usage: '/sticker: a cut-out cartoon sticker of the person (PNG files ready to add to a server)',
  async run(interaction, { jobs, settings }) {
    const found = fromAttachment(interaction.options.getAttachment('image', true));
    if ('refusal' in found) return void (await interaction.reply(warning(found.refusal)));
    const styleOption = interaction.options.getString('style');
    await jobs.start(interaction, {
      media: found.media,
      style: styleOption && findStyle(styleOption) ? styleOption : await defaultStyle(settings, interaction),
      mode: DEFAULT_MODE,
      upscale: 1,
      faces: DEFAULT_FACE_LOOK,
      private: interaction.options.getBoolean('private') ?? false,
      operation: 'sticker',
      extras: interaction.options.getBoolean('body') ? { body: true } : {},
    });
  },
};
