/**
 * /emoji image: effect: text: private: an animated emoji (a 128 px GIF under 256 KB) made from the
 * person's sticker, and the 🔁 Another effect / ✨ Animate it button under stickers and emoji.
 */
import { SlashCommandBuilder } from 'discord.js';
import { AnimefyError } from '../../../errors.ts';
import { checkCaption } from '../../../pipeline/caption.ts';
import { DEFAULT_EMOJI_EFFECT, EMOJI_EFFECTS, MAX_CAPTION_CHARS, parseEmojiEffect } from '../../../pipeline/emoji-effects.ts';
import { DEFAULT_FACE_LOOK, DEFAULT_MODE } from '../../../pipeline/modes.ts';
import { nextEffect } from '../../job-flow.ts';
import { fromAttachment } from '../media.ts';
import { defaultStyle, EVERYWHERE, INSTALLS, warning, type DiscordCommand } from './command.ts';

const data = new SlashCommandBuilder()
  .setName('emoji')
  .setDescription('An animated emoji of the person in a photo')
  .setContexts(EVERYWHERE)
  .setIntegrationTypes(INSTALLS)
  .addAttachmentOption((o) => o.setName('image').setDescription('A photo of someone').setRequired(true))
  .addStringOption((o) =>
    o
      .setName('effect')
      .setDescription(`The animation (default: ${DEFAULT_EMOJI_EFFECT})`)
      .addChoices(...EMOJI_EFFECTS.map((e) => ({ name: `${e.emoji} ${e.label}: ${e.description}`.slice(0, 100), value: e.id }))),
  )
  .addStringOption((o) => o.setName('text').setDescription(`A short caption (up to ${MAX_CAPTION_CHARS} characters)`).setMaxLength(MAX_CAPTION_CHARS))
  .addBooleanOption((o) => o.setName('private').setDescription('Only you see the result'));

export const emoji: DiscordCommand = {
  type: 'slash',
  data: data.toJSON(),
  usage: `/emoji: an animated emoji of the person (${EMOJI_EFFECTS.map((e) => e.id).join(', ')}), with an optional caption`,
  async run(interaction, { jobs, settings }) {
    const found = fromAttachment(interaction.options.getAttachment('image', true));
    if ('refusal' in found) return void (await interaction.reply(warning(found.refusal)));
    const text = interaction.options.getString('text')?.trim();
    let extras;
    try {
      extras = { effect: parseEmojiEffect(interaction.options.getString('effect') ?? DEFAULT_EMOJI_EFFECT), ...(text ? { text: checkCaption(text) } : {}) };
    } catch (err) {
      return void (await interaction.reply(warning(err)));
    }
    await jobs.start(interaction, {
      media: found.media,
      style: await defaultStyle(settings, interaction),
      mode: DEFAULT_MODE,
      upscale: 1,
      faces: DEFAULT_FACE_LOOK,
      private: interaction.options.getBoolean('private') ?? false,
      operation: 'emoji',
      extras,
    });
  },

  components: ['effect'],
  async onComponent(interaction, action, { jobs, refs }) {
    if (action.kind !== 'effect') return;
    const ref = await refs.get(action.ref);
    if (!ref) return void (await interaction.reply(warning(new AnimefyError('BUTTON_EXPIRED'))));
    const effect = nextEffect(ref.operation === 'emoji' ? ref.extras?.effect : undefined);
    await jobs.start(interaction, {
      ...{ media: ref.media, style: ref.style, mode: ref.mode, upscale: 1, faces: ref.faces, private: ref.private },
      operation: 'emoji',
      extras: { ...ref.extras, effect },
    });
  },
};
