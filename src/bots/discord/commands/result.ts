/**
 * /result and the 📥 Get my result button: hands over the results that finished after their
 * interaction expired and could be neither posted in the channel nor sent as a DM (reply.ts keeps them
 * for ANIMEFY_RESULT_TTL_H hours). An interaction's own reply always reaches its user, wherever the bot
 * itself may not post, so this works in every server, DM and group DM the app is used in. Only the
 * requester sees them (ephemeral), and each is forgotten once handed over.
 */
import { MessageFlags, SlashCommandBuilder, type RepliableInteraction } from 'discord.js';
import { AnimefyError, formatBytes } from '../../../errors.ts';
import { requesterOnly, warningText } from '../../job-flow.ts';
import type { PendingResult } from '../../result-store.ts';
import { uploadLimit } from '../jobs.ts';
import { describeDiscordError, pendingKey } from '../reply.ts';
import { EVERYWHERE, INSTALLS, warning, type CommandDeps, type DiscordCommand } from './command.ts';

const data = new SlashCommandBuilder()
  .setName('result')
  .setDescription('Get a result I finished late but could not post here or send you by DM')
  .setContexts(EVERYWHERE)
  .setIntegrationTypes(INSTALLS);

export const result: DiscordCommand = {
  type: 'slash',
  data: data.toJSON(),
  usage: '/result: get a result that finished after my reply expired when I could neither post it nor DM you (kept for a limited time, then deleted).',
  run: (interaction, deps) => handOver(interaction, deps),
  components: ['result'],
  async onComponent(interaction, action, deps) {
    if (action.kind !== 'result') return;
    const notYours = requesterOnly(action.requesterId, interaction.user.id);
    if (notYours) return void (await interaction.reply(warning(notYours)));
    await handOver(interaction, deps);
  },
};

/** Sends the user's waiting results (one message each), then forgets those that were sent. */
async function handOver(interaction: RepliableInteraction, { pending, log }: CommandDeps): Promise<void> {
  // Reading them may take longer than Discord's 3 s on a slow disk: acknowledge first.
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const key = pendingKey(interaction.user.id);
  const waiting = await pending.list(key);
  if (waiting.length === 0) {
    await interaction.editReply(warningText(new AnimefyError('NO_PENDING_RESULT', { hours: Math.round((pending.ttlMs / 3600_000) * 10) / 10 })));
    return;
  }
  const limit = uploadLimit(interaction);
  const sent: string[] = [];
  for (const [index, item] of waiting.entries()) {
    const message = messageFor(item, limit);
    try {
      // The first answer edits the deferred reply; the others are ephemeral follow-ups (new messages once it is edited).
      if (index === 0) await interaction.editReply(message);
      else await interaction.followUp({ ...message, flags: MessageFlags.Ephemeral });
      if (message.files.length) sent.push(item.id);
    } catch (err) {
      log.warn({ err: describeDiscordError(err), interaction: interaction.id }, 'could not hand over a kept result');
    }
  }
  await pending.remove(key, sent);
}

/** The result with its caption; only a line when this interaction's upload limit is smaller than the one it was made for. */
function messageFor(item: PendingResult, limit: number): { content: string; files: { attachment: Buffer; name: string }[] } {
  if (item.data.byteLength > limit) {
    return { content: `📦 One result is ${formatBytes(item.data.byteLength)}, more than I can send here: use /result where you asked for it.`, files: [] };
  }
  return { content: item.caption.slice(0, 2000), files: [{ attachment: item.data, name: item.fileName }] };
}
