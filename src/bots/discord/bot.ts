/**
 * The Discord bot: one discord.js Client (Guilds intent only: interactions need no privileged
 * intents), with every interaction routed here behind an error boundary (one failing interaction
 * never stops the bot, and its user still gets an answer). Jobs live in jobs.ts.
 */
import {
  Client,
  Events,
  GatewayIntentBits,
  MessageFlags,
  PermissionFlagsBits,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type MessageContextMenuCommandInteraction,
  type StringSelectMenuInteraction,
} from 'discord.js';
import type { Logger } from 'pino';
import { AnimefyError, formatBytes, isAnimefyError } from '../../errors.ts';
import { DEFAULT_FACE_LOOK, DEFAULT_MODE, otherFaceLook, parseMode, type Mode } from '../../pipeline/modes.ts';
import type { JobQueue } from '../../queue/types.ts';
import { DEFAULT_STYLE, findStyle, getStyle } from '../../pipeline/styles.ts';
import type { ChatSettingsStore } from '../chat-settings.ts';
import { RateLimiter } from '../rate-limit.ts';
import { ReferenceStore } from '../references.ts';
import { findInfoCommand, INFO_COMMANDS } from '../commands/index.ts';
import { commandLines, type InfoCommand } from '../commands/info-command.ts';
import { REFERENCE_TTL_MS, requesterOnly, warningText } from '../job-flow.ts';
import { COMMAND_NAMES } from './commands.ts';
import { decodeAction, styleMenu } from './components.ts';
import { DiscordJobs, type DiscordLimits, type JobReference } from './jobs.ts';
import { findMessageMedia, fromAttachment } from './media.ts';
import { describeDiscordError } from './reply.ts';

export interface DiscordBotOptions {
  apiBase: string;
  queue: JobQueue;
  settings: ChatSettingsStore;
  limits: DiscordLimits;
  rateLimit: { jobs: number; windowMs: number };
  log: Logger;
  /** Buttons under results work this long (default a day; Discord's attachment URLs last about as long). */
  referenceTtlMs?: number;
  /** Minimum time between progress edits of one reply (default 1.5 s). */
  editIntervalMs?: number;
  /** Interaction token lifetime (default Discord's 15 minutes; tests shorten it). */
  tokenTtlMs?: number;
}

export interface DiscordBot {
  client: Client;
  jobs: DiscordJobs;
}

/** How to use the bot here, with the real limits. */
export function usageText(limits: Pick<DiscordLimits, 'inputBytes' | 'maxClipSeconds'>, info: readonly InfoCommand[] = INFO_COMMANDS): string {
  return [
    'Use `/animefy image:` with a photo, GIF or short video (pick a style, a mode, ×2 upscale, kept faces, or a private reply), or right-click a message → Apps → Animefy.',
    '/style: set the default style here',
    ...commandLines(info),
    `Limits: files up to ${formatBytes(limits.inputBytes)}; GIFs and videos up to ${limits.maxClipSeconds} s.`,
  ].join('\n');
}

/** Discord's message length limit. */
const MAX_CONTENT = 2000;

export function createDiscordBot(options: DiscordBotOptions): DiscordBot {
  const { log, settings } = options;
  const client = new Client({
    intents: [GatewayIntentBits.Guilds],
    rest: { api: options.apiBase, timeout: 60_000, retries: 2 },
    // Nothing the bot says pings anyone unless it asks to (the late-result mention does).
    allowedMentions: { parse: [] },
  });
  const refs = new ReferenceStore<JobReference>(options.referenceTtlMs ?? REFERENCE_TTL_MS);
  const jobs = new DiscordJobs({
    queue: options.queue,
    limits: options.limits,
    rateLimiter: new RateLimiter(options.rateLimit.jobs, options.rateLimit.windowMs),
    refs,
    log,
    editIntervalMs: options.editIntervalMs ?? 1500,
    tokenTtlMs: options.tokenTtlMs,
  });

  /** A server's default style (set with /style); in DMs, the user's own. */
  const settingsKey = (interaction: Interaction) =>
    interaction.guildId ? `discord:guild:${interaction.guildId}` : `discord:user:${interaction.user.id}`;
  const defaultStyle = (interaction: Interaction) => settings.get(settingsKey(interaction)).style ?? DEFAULT_STYLE;
  const ephemeral = (content: string) => ({ content: content.slice(0, MAX_CONTENT), flags: MessageFlags.Ephemeral }) as const;
  /** An error's message, shown only to the user who caused it. */
  const warning = (err: unknown) => ephemeral(warningText(err));

  client.on(Events.InteractionCreate, (interaction) => {
    void route(interaction).catch(async (err: unknown) => {
      // A typed error is the user's to read (an unknown option); anything else is ours to log.
      if (!isAnimefyError(err)) log.error({ err: describeDiscordError(err), interaction: interaction.id, type: interaction.type }, 'interaction handler failed');
      if (interaction.isRepliable() && !interaction.replied && !interaction.deferred) {
        await interaction.reply(warning(err)).catch(() => undefined);
      }
    });
  });
  client.on(Events.Error, (err) => log.error({ err: describeDiscordError(err) }, 'discord client error'));
  client.on(Events.ShardError, (err) => log.warn({ err: describeDiscordError(err) }, 'gateway connection error'));

  async function route(interaction: Interaction): Promise<void> {
    if (interaction.isChatInputCommand()) return onCommand(interaction);
    if (interaction.isMessageContextMenuCommand()) return onMessageMenu(interaction);
    if (interaction.isButton() || interaction.isStringSelectMenu()) return onComponent(interaction);
  }

  async function onCommand(interaction: ChatInputCommandInteraction): Promise<void> {
    switch (interaction.commandName) {
      case COMMAND_NAMES.animefy:
        return onAnimefy(interaction);
      case COMMAND_NAMES.style:
        return onSetStyle(interaction);
      default: {
        const info = findInfoCommand(interaction.commandName);
        const text = info?.reply({ platform: 'discord', usage: usageText(options.limits) });
        await interaction.reply(ephemeral(text ?? "I don't know that command any more. It may take a moment for Discord to update the list."));
      }
    }
  }

  async function onAnimefy(interaction: ChatInputCommandInteraction): Promise<void> {
    const attachment = interaction.options.getAttachment('image', true);
    const found = fromAttachment(attachment);
    if ('refusal' in found) {
      await interaction.reply(warning(found.refusal));
      return;
    }
    const styleOption = interaction.options.getString('style');
    const style = styleOption && findStyle(styleOption) ? styleOption : defaultStyle(interaction);
    const modeOption = interaction.options.getString('mode');
    const mode: Mode = modeOption ? parseMode(modeOption) : DEFAULT_MODE;
    await jobs.start(interaction, {
      media: found.media,
      style,
      mode,
      upscale: interaction.options.getBoolean('upscale') ? 2 : 1,
      faces: interaction.options.getBoolean('keep_faces') ? 'keep' : DEFAULT_FACE_LOOK,
      private: interaction.options.getBoolean('private') ?? false,
    });
  }

  async function onMessageMenu(interaction: MessageContextMenuCommandInteraction): Promise<void> {
    const message = interaction.targetMessage;
    const found = findMessageMedia({ attachments: message.attachments.values(), embeds: message.embeds }, options.limits.mediaHosts);
    if ('refusal' in found) {
      await interaction.reply(warning(found.refusal));
      return;
    }
    await jobs.start(interaction, { media: found.media, style: defaultStyle(interaction), mode: DEFAULT_MODE, upscale: 1, faces: DEFAULT_FACE_LOOK, private: false });
  }

  async function onSetStyle(interaction: ChatInputCommandInteraction): Promise<void> {
    if (interaction.inGuild() && !interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) {
      await interaction.reply(warning(new AnimefyError('MANAGERS_ONLY')));
      return;
    }
    const style = getStyle(interaction.options.getString('style', true));
    settings.set(settingsKey(interaction), { style: style.id });
    const where = interaction.inGuild() ? "this server's" : 'your';
    await interaction.reply({ content: `${style.emoji} ${style.label} is now ${where} default style (used by the Animefy message menu and when /animefy has no style).` });
  }

  async function onComponent(interaction: ButtonInteraction | StringSelectMenuInteraction): Promise<void> {
    const action = decodeAction(interaction.customId);
    if (!action) {
      await interaction.reply(warning(new AnimefyError('BUTTON_EXPIRED')));
      return;
    }
    switch (action.kind) {
      case 'delete': {
        const notYours = requesterOnly(action.requesterId, interaction.user.id);
        if (notYours) {
          await interaction.reply(warning(notYours));
          return;
        }
        await interaction.deferUpdate();
        // Already gone (deleted by hand, or twice): nothing to do.
        await interaction.deleteReply().catch((err: unknown) => log.debug({ err: describeDiscordError(err) }, 'result not deleted'));
        return;
      }
      case 'cancel': {
        const outcome = await jobs.cancel(action.job, interaction.user.id);
        if (outcome === 'not-yours') await interaction.reply(warning(new AnimefyError('NOT_YOUR_BUTTON')));
        else if (outcome === 'unknown') await interaction.reply(ephemeral('That one has already finished.'));
        else await interaction.deferUpdate();
        return;
      }
      default:
        break;
    }
    const ref = refs.get(action.ref);
    if (!ref) {
      await interaction.reply(warning(new AnimefyError('BUTTON_EXPIRED')));
      return;
    }
    if (action.kind === 'again') {
      await interaction.reply({ content: '🎨 Which style?', components: [styleMenu(action.ref, ref.style)], flags: MessageFlags.Ephemeral });
      return;
    }
    if (action.kind === 'upscale') {
      await jobs.start(interaction, { media: ref.media, style: ref.style, mode: ref.mode, upscale: 2, faces: ref.faces, private: ref.private });
      return;
    }
    if (action.kind === 'faces') {
      const faces = otherFaceLook(ref.faces);
      await jobs.start(interaction, { media: ref.media, style: ref.style, mode: ref.mode, upscale: ref.upscale, faces, private: ref.private });
      return;
    }
    // 'pick': a style from the menu, on the same file.
    const picked = interaction.isStringSelectMenu() ? interaction.values[0] : undefined;
    const style = picked && findStyle(picked) ? picked : ref.style;
    await jobs.start(interaction, { media: ref.media, style, mode: ref.mode, upscale: 1, faces: ref.faces, private: ref.private });
  }

  return { client, jobs };
}
