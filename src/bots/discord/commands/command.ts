/**
 * One Discord command per file, discord.js guide style: `{ data, run }`, plus the buttons and menus
 * its replies carry. A new command is a file in this folder and a line in `discordCommands()`
 * (index.ts): registration, routing and the usage text read that list.
 */
import {
  ApplicationIntegrationType,
  InteractionContextType,
  MessageFlags,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type MessageContextMenuCommandInteraction,
  type RESTPostAPIApplicationCommandsJSONBody,
  type StringSelectMenuInteraction,
} from 'discord.js';
import type { Logger } from 'pino';
import { DEFAULT_FACE_LOOK, DEFAULT_MODE } from '../../../pipeline/modes.ts';
import { DEFAULT_STYLE, STYLES } from '../../../pipeline/styles.ts';
import type { ChatSettingsStore } from '../../chat-settings.ts';
import { warningText } from '../../job-flow.ts';
import type { ReferenceStore } from '../../references.ts';
import type { PendingResults } from '../../result-store.ts';
import type { ComponentAction } from '../components.ts';
import type { DiscordJobs, DiscordLimits, JobReference, JobSpec } from '../jobs.ts';
import type { MediaSource } from '../media.ts';

/** What every command may use. */
export interface CommandDeps {
  jobs: DiscordJobs;
  refs: ReferenceStore<JobReference>;
  /** Late results waiting for their users (/result, "Get my result"). */
  pending: PendingResults;
  settings: ChatSettingsStore;
  limits: DiscordLimits;
  log: Logger;
  /** How to use the bot here (commands and limits), for /about: Discord has no /help. */
  usage: string;
}

export type ComponentInteraction = ButtonInteraction | StringSelectMenuInteraction;

interface CommandBase {
  data: RESTPostAPIApplicationCommandsJSONBody;
  /** Its line in the usage text of /about (none: not listed). */
  usage?: string;
  /** The component kinds (buttons, menus) this command's replies carry and it answers. */
  components?: readonly ComponentAction['kind'][];
  onComponent?(interaction: ComponentInteraction, action: ComponentAction, deps: CommandDeps): Promise<void>;
}

export type DiscordCommand =
  | (CommandBase & { type: 'slash'; run(interaction: ChatInputCommandInteraction, deps: CommandDeps): Promise<void> })
  | (CommandBase & {
      type: 'message';
      /** What it does to the message, for the README (a message menu entry has no description on Discord). */
      summary: string;
      run(interaction: MessageContextMenuCommandInteraction, deps: CommandDeps): Promise<void>;
    });

/** Servers, the bot's DMs and group DMs; installed to a server or to a user. */
export const EVERYWHERE = [InteractionContextType.Guild, InteractionContextType.BotDM, InteractionContextType.PrivateChannel];
export const INSTALLS = [ApplicationIntegrationType.GuildInstall, ApplicationIntegrationType.UserInstall];

/** Every style of the registry as choices. No "(default)" mark: a server's own default (/style) may be another. */
export const styleChoices = () => STYLES.map((s) => ({ name: `${s.emoji} ${s.label}`, value: s.id }));

/** Discord's message length limit. */
const MAX_CONTENT = 2000;

/** A message only the user who acted sees. */
export const ephemeral = (content: string) => ({ content: content.slice(0, MAX_CONTENT), flags: MessageFlags.Ephemeral }) as const;

/** An error's message, shown only to the user who caused it. */
export const warning = (err: unknown) => ephemeral(warningText(err));

/** A server's default style (set with /style); in DMs, the user's own. */
export const settingsKey = (interaction: Interaction) =>
  interaction.guildId ? `discord:guild:${interaction.guildId}` : `discord:user:${interaction.user.id}`;

export const defaultStyle = async (settings: ChatSettingsStore, interaction: Interaction) => (await settings.get(settingsKey(interaction))).style ?? DEFAULT_STYLE;

/** A job on `media` with the default style, mode and face look (erase, smile, landmarks set what they do). */
export function plainJob(media: MediaSource, hidden: boolean, what: Pick<JobSpec, 'operation' | 'person' | 'pickFor' | 'extras'>): JobSpec {
  return { media, style: DEFAULT_STYLE, mode: DEFAULT_MODE, upscale: 1, faces: DEFAULT_FACE_LOOK, private: hidden, ...what };
}
