/**
 * /erase image: person: removes a person from a photo and rebuilds the background behind them.
 * Without `person`, a numbered preview (only the requester sees it) asks who, with a menu. Photos
 * only: a GIF or video gets a clear refusal from the pipeline.
 */
import { SlashCommandBuilder } from 'discord.js';
import { fromAttachment } from '../media.ts';
import { EVERYWHERE, INSTALLS, plainJob, warning, type DiscordCommand } from './command.ts';

const data = new SlashCommandBuilder()
  .setName('erase')
  .setDescription('Remove a person from a photo and fill in the background')
  .setContexts(EVERYWHERE)
  .setIntegrationTypes(INSTALLS)
  .addAttachmentOption((o) => o.setName('image').setDescription('A photo with people').setRequired(true))
  .addIntegerOption((o) => o.setName('person').setDescription('Who, numbered left to right (leave out to see the numbers first)').setMinValue(1).setMaxValue(99))
  .addBooleanOption((o) => o.setName('private').setDescription('Only you see the result'));

export const erase: DiscordCommand = {
  type: 'slash',
  data: data.toJSON(),
  usage: '/erase: remove a person from a photo (pick who from a numbered preview)',
  async run(interaction, { jobs }) {
    const found = fromAttachment(interaction.options.getAttachment('image', true));
    if ('refusal' in found) return void (await interaction.reply(warning(found.refusal)));
    const person = interaction.options.getInteger('person');
    const hidden = interaction.options.getBoolean('private') ?? false;
    await jobs.start(interaction, plainJob(found.media, hidden, person ? { operation: 'erase', person: [person] } : { operation: 'people', pickFor: 'erase' }));
  },
};
