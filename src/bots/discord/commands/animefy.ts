/**
 * /animefy image: style: mode: upscale: keep_faces: private:, and the buttons under its results:
 * 🎨 Another style (a style menu), 🙂 Keep faces / ✨ Anime faces, 🔍 Upscale ×2, 🗑 Delete, ✖ Cancel.
 */
import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import { AnimefyError } from '../../../errors.ts';
import { DEFAULT_FACE_LOOK, DEFAULT_MODE, MODES, otherFaceLook, parseMode } from '../../../pipeline/modes.ts';
import { findStyle } from '../../../pipeline/styles.ts';
import { requesterOnly } from '../../job-flow.ts';
import { styleMenu } from '../components.ts';
import { fromAttachment } from '../media.ts';
import { describeDiscordError } from '../reply.ts';
import { defaultStyle, ephemeral, EVERYWHERE, INSTALLS, styleChoices, warning, type DiscordCommand } from './command.ts';

const data = new SlashCommandBuilder()
  .setName('animefy')
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

export const animefy: DiscordCommand = {
  type: 'slash',
  data: data.toJSON(),
  usage:
    'Use `/animefy image:` with a photo, GIF or short video (pick a style, a mode, ×2 upscale, kept faces, or a private reply), or right-click a message → Apps → Animefy.',
  async run(interaction, { jobs, settings }) {
    const found = fromAttachment(interaction.options.getAttachment('image', true));
    if ('refusal' in found) {
      await interaction.reply(warning(found.refusal));
      return;
    }
    const styleOption = interaction.options.getString('style');
    const modeOption = interaction.options.getString('mode');
    const mode = modeOption ? parseMode(modeOption) : DEFAULT_MODE;
    await jobs.start(interaction, {
      media: found.media,
      style: styleOption && findStyle(styleOption) ? styleOption : await defaultStyle(settings, interaction),
      mode,
      upscale: interaction.options.getBoolean('upscale') ? 2 : 1,
      faces: interaction.options.getBoolean('keep_faces') ? 'keep' : DEFAULT_FACE_LOOK,
      private: interaction.options.getBoolean('private') ?? false,
      // Person mode shows who is in it first (only to the requester), to pick who becomes anime.
      ...(mode === 'person' ? { operation: 'people', pickFor: 'animefy' } : {}),
    });
  },

  components: ['again', 'pick', 'upscale', 'faces', 'person', 'delete', 'cancel'],
  async onComponent(interaction, action, { jobs, refs, log }) {
    if (action.kind === 'delete') {
      const notYours = requesterOnly(action.requesterId, interaction.user.id);
      if (notYours) return void (await interaction.reply(warning(notYours)));
      await interaction.deferUpdate();
      // Already gone (deleted by hand, or twice): nothing to do.
      await interaction.deleteReply().catch((err: unknown) => log.debug({ err: describeDiscordError(err) }, 'result not deleted'));
      return;
    }
    if (action.kind === 'cancel') {
      const outcome = await jobs.cancel(action.job, interaction.user.id);
      if (outcome === 'not-yours') await interaction.reply(warning(new AnimefyError('NOT_YOUR_BUTTON')));
      else if (outcome === 'unknown') await interaction.reply(ephemeral('That one has already finished.'));
      else await interaction.deferUpdate();
      return;
    }
    if (action.kind === 'result') return; // not this command's: /result answers it (routing never sends it here)
    const ref = await refs.get(action.ref);
    if (!ref) return void (await interaction.reply(warning(new AnimefyError('BUTTON_EXPIRED'))));
    // The same file and choices again, for the same person (or the same erase).
    const again = {
      ...{ media: ref.media, style: ref.style, mode: ref.mode, upscale: ref.upscale, faces: ref.faces, private: ref.private },
      ...(ref.operation === 'erase' || ref.mode === 'person' ? { operation: ref.operation ?? 'animefy', person: ref.person } : {}),
    };
    switch (action.kind) {
      case 'person': {
        // A pick from the numbered people preview: only the requester's.
        const notYours = requesterOnly(ref.requesterId, interaction.user.id);
        if (notYours) return void (await interaction.reply(warning(notYours)));
        const value = interaction.isStringSelectMenu() ? interaction.values[0] : undefined;
        const person = value === 'all' ? 'all' : [Number(value)];
        await jobs.start(interaction, { ...again, operation: ref.operation ?? 'animefy', person });
        return;
      }
      case 'again':
        await interaction.reply({ content: '🎨 Which style?', components: [styleMenu(action.ref, ref.style)], flags: MessageFlags.Ephemeral });
        return;
      case 'upscale':
        await jobs.start(interaction, { ...again, upscale: 2 });
        return;
      case 'faces':
        await jobs.start(interaction, { ...again, faces: otherFaceLook(ref.faces) });
        return;
      case 'pick': {
        // A style from the menu, on the same file.
        const picked = interaction.isStringSelectMenu() ? interaction.values[0] : undefined;
        await jobs.start(interaction, { ...again, style: picked && findStyle(picked) ? picked : ref.style, upscale: 1 });
        return;
      }
    }
  },
};
