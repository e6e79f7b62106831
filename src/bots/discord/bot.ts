/**
 * The Discord bot: one discord.js Client (Guilds intent only: interactions need no privileged
 * intents; automatic sharding, as Discord requires one shard per 2,500 servers), with every
 * interaction routed here behind an error boundary (one failing interaction never stops the bot, and
 * its user still gets an answer). Each command is a file in commands/; jobs live in jobs.ts.
 */
import { Client, Events, GatewayIntentBits, type Interaction } from 'discord.js';
import type { Logger } from 'pino';
import { AnimefyError, isAnimefyError } from '../../errors.ts';
import type { JobQueue } from '../../queue/types.ts';
import type { ChatSettingsStore } from '../chat-settings.ts';
import { RateLimiter } from '../rate-limit.ts';
import { ReferenceStore } from '../references.ts';
import { FileStateStore, type StateStore } from '../state/store.ts';
import { REFERENCE_TTL_MS, warningText } from '../job-flow.ts';
import { MemoryResultStore, PendingResults, type ResultStore } from '../result-store.ts';
import { ephemeral, warning, type CommandDeps, type DiscordCommand } from './commands/command.ts';
import { discordCommands, usageText } from './commands/index.ts';
import { decodeAction } from './components.ts';
import { DiscordJobs, type DiscordLimits, type JobReference } from './jobs.ts';
import { describeDiscordError } from './reply.ts';

export interface DiscordBotOptions {
  apiBase: string;
  queue: JobQueue;
  settings: ChatSettingsStore;
  limits: DiscordLimits;
  rateLimit: { jobs: number; windowMs: number };
  log: Logger;
  /** Where button references and rate-limit logs live (default: this process's memory). */
  state?: StateStore;
  /** Buttons under results work this long (default a day; Discord's attachment URLs last about as long). */
  referenceTtlMs?: number;
  /** Minimum time between progress edits of one reply (default 1.5 s). */
  editIntervalMs?: number;
  /** Interaction token lifetime (default Discord's 15 minutes; tests shorten it). */
  tokenTtlMs?: number;
  /** The commands (default: all of commands/index.ts). */
  commands?: readonly DiscordCommand[];
  /** Where late results that could be neither posted nor DMed wait (default: in memory). */
  resultStore?: ResultStore;
  /** How long they wait (default a day; 0: not kept). */
  resultTtlMs?: number;
}

/** How long an undeliverable late result waits by default (ANIMEFY_RESULT_TTL_H). */
const DEFAULT_RESULT_TTL_MS = 24 * 3600 * 1000;

export interface DiscordBot {
  client: Client;
  jobs: DiscordJobs;
}

export function createDiscordBot(options: DiscordBotOptions): DiscordBot {
  const { log } = options;
  const client = new Client({
    intents: [GatewayIntentBits.Guilds],
    // As many shards as GET /gateway/bot recommends: a bot in 2,500 servers or more is refused (4011) without.
    shards: 'auto',
    rest: { api: options.apiBase, timeout: 60_000, retries: 2 },
    // Nothing the bot says pings anyone unless it asks to (the late-result mention does).
    allowedMentions: { parse: [] },
  });
  // Button references and rate-limit logs live in the shared state (Redis, or a file): another
  // process, or this one after a restart, still knows them.
  const state = options.state ?? FileStateStore.inMemory();
  const refs = new ReferenceStore<JobReference>(state, 'discord', options.referenceTtlMs ?? REFERENCE_TTL_MS);
  const pending = new PendingResults(options.resultStore ?? new MemoryResultStore(), options.resultTtlMs ?? DEFAULT_RESULT_TTL_MS);
  const jobs = new DiscordJobs({
    pending,
    queue: options.queue,
    limits: options.limits,
    rateLimiter: new RateLimiter(state, options.rateLimit.jobs, options.rateLimit.windowMs),
    refs,
    log,
    editIntervalMs: options.editIntervalMs ?? 1500,
    tokenTtlMs: options.tokenTtlMs,
  });

  const commands = options.commands ?? discordCommands();
  const deps: CommandDeps = { jobs, refs, pending, settings: options.settings, limits: options.limits, log, usage: usageText(options.limits, commands) };

  client.on(Events.InteractionCreate, (interaction) => {
    void route(interaction).catch(async (err: unknown) => {
      // A typed error is the user's to read (an unknown option); anything else is ours to log.
      if (!isAnimefyError(err)) log.error({ err: describeDiscordError(err), interaction: interaction.id, type: interaction.type }, 'interaction handler failed');
      if (!interaction.isRepliable() || interaction.replied) return;
      if (!interaction.deferred) return void (await interaction.reply(warning(err)).catch(() => undefined));
      // A command deferred already: the answer edits its "thinking…" reply (a follow-up would be turned into
      // that same edit by Discord, and fail once the reply is deleted). A deferred button may be deferring
      // an update of the message it is on, which must not be overwritten.
      if (interaction.isCommand()) await interaction.editReply({ content: warningText(err), components: [] }).catch(() => undefined);
    });
  });
  client.on(Events.Error, (err) => log.error({ err: describeDiscordError(err) }, 'discord client error'));
  client.on(Events.ShardError, (err) => log.warn({ err: describeDiscordError(err) }, 'gateway connection error'));

  /** Each interaction goes to the command that owns it: by name, or by the kind of its button. */
  async function route(interaction: Interaction): Promise<void> {
    if (interaction.isChatInputCommand()) {
      const command = commands.find((c) => c.type === 'slash' && c.data.name === interaction.commandName);
      if (command?.type === 'slash') return command.run(interaction, deps);
      await interaction.reply(ephemeral("I don't know that command any more. It may take a moment for Discord to update the list."));
      return;
    }
    if (interaction.isMessageContextMenuCommand()) {
      const command = commands.find((c) => c.type === 'message' && c.data.name === interaction.commandName);
      if (command?.type === 'message') return command.run(interaction, deps);
      await interaction.reply(ephemeral("I don't know that menu entry any more."));
      return;
    }
    if (interaction.isButton() || interaction.isStringSelectMenu()) {
      const action = decodeAction(interaction.customId);
      const owner = action && commands.find((c) => c.components?.includes(action.kind));
      if (!action || !owner?.onComponent) return void (await interaction.reply(warning(new AnimefyError('BUTTON_EXPIRED'))));
      await owner.onComponent(interaction, action, deps);
    }
  }

  return { client, jobs };
}
