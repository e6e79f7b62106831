/**
 * Runs the Discord bot: logs in over the gateway (its URL comes from `<DISCORD_API_BASE>/gateway/bot`),
 * checks that DISCORD_APP_ID is this token's application, registers the commands (unless
 * DISCORD_REGISTER_COMMANDS=false) and serves interactions. Late results that can be neither posted nor
 * DMed wait in files under ANIMEFY_DATA_DIR/results (so a restart keeps them). `stop()` refuses new jobs,
 * lets running ones finish or cancels them with a message, then closes the gateway connection.
 */
import { Events, REST, type Client } from 'discord.js';
import { type Config, MB, mbToBytes } from '../../config.ts';
import { childLogger } from '../../log.ts';
import type { JobQueue } from '../../queue/types.ts';
import type { BotState } from '../state/open.ts';
import { createDiscordBot, type DiscordBot, type DiscordBotOptions } from './bot.ts';
import { registerCommands } from './commands/index.ts';
import type { DiscordLimits } from './jobs.ts';
import { describeDiscordError } from './reply.ts';

const LOGIN_TIMEOUT_MS = 30_000;

export interface RunningDiscordBot extends DiscordBot {
  stop(): Promise<void>;
}

export function discordLimits(config: Config): DiscordLimits {
  return {
    inputBytes: Math.min(config.DISCORD_MAX_INPUT_MB * MB, mbToBytes(config.ANIMEFY_MAX_INPUT_MB)),
    maxOutputPixels: config.ANIMEFY_MAX_OUTPUT_PIXELS,
    maxClipSeconds: config.ANIMEFY_MAX_VIDEO_S,
    mediaHosts: config.DISCORD_MEDIA_HOSTS,
  };
}

/** The token and application id, or a message saying which is missing. */
export function discordCredentials(config: Config): { token: string; appId: string } {
  if (!config.DISCORD_TOKEN) throw new Error('DISCORD_TOKEN is not set (see .env.example)');
  if (!config.DISCORD_APP_ID) {
    throw new Error('DISCORD_APP_ID is not set: copy the Application ID from the Discord Developer Portal (General Information)');
  }
  return { token: config.DISCORD_TOKEN, appId: config.DISCORD_APP_ID };
}

export function discordRest(config: Config, token: string): REST {
  return new REST({ api: config.DISCORD_API_BASE, timeout: 30_000, retries: 2 }).setToken(token);
}

export async function startDiscordBot(
  config: Config,
  queue: JobQueue,
  state: BotState,
  overrides: Partial<Pick<DiscordBotOptions, 'tokenTtlMs' | 'editIntervalMs' | 'referenceTtlMs'>> = {},
): Promise<RunningDiscordBot> {
  const { token, appId } = discordCredentials(config);
  const log = childLogger({ module: 'discord' });
  const created = createDiscordBot({
    apiBase: config.DISCORD_API_BASE,
    queue,
    settings: state.settings,
    state: state.store,
    limits: discordLimits(config),
    rateLimit: { jobs: config.ANIMEFY_RATE_LIMIT_JOBS, windowMs: config.ANIMEFY_RATE_LIMIT_WINDOW_S * 1000 },
    log,
    resultStore: state.results,
    resultTtlMs: config.ANIMEFY_RESULT_TTL_H * 3600 * 1000,
    ...overrides,
  });
  const { client, jobs } = created;
  try {
    await login(client, token, config.DISCORD_API_BASE);
    const actualApp = client.application?.id;
    if (actualApp && actualApp !== appId) {
      throw new Error(`DISCORD_APP_ID is ${appId}, but DISCORD_TOKEN belongs to application ${actualApp}: use that id`);
    }
    if (config.DISCORD_REGISTER_COMMANDS) {
      try {
        const { count, scope } = await registerCommands(client.rest, appId, config.DISCORD_GUILD_ID);
        log.info({ count, scope }, 'commands registered');
      } catch (err) {
        // The bot still works with the commands registered before; say why these were not.
        log.error({ err: describeDiscordError(err), guild: config.DISCORD_GUILD_ID }, 'could not register the commands');
      }
    }
  } catch (err) {
    await client.destroy();
    throw err;
  }
  log.info({ bot: client.user?.tag, guilds: client.guilds.cache.size }, 'Discord bot running');
  const graceMs = config.ANIMEFY_SHUTDOWN_GRACE_S * 1000;
  return {
    ...created,
    async stop() {
      await jobs.shutdown(graceMs);
      await client.destroy();
    },
  };
}

/** Logs in and waits for READY, once: a wrong token or an unreachable API fails the start clearly. */
async function login(client: Client, token: string, apiBase: string): Promise<void> {
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Could not connect to Discord at ${apiBase} within ${LOGIN_TIMEOUT_MS / 1000} s`)), LOGIN_TIMEOUT_MS);
  });
  try {
    await Promise.race([client.login(token).then(() => ready), timeout]);
  } catch (err) {
    const text = describeDiscordError(err);
    if (/TokenInvalid|invalid token|401|Authentication failed/i.test(text)) {
      throw new Error('Discord refused DISCORD_TOKEN (401 Unauthorized): reset the token in the Developer Portal (Bot page)');
    }
    if (err instanceof Error && err.message.startsWith('Could not connect')) throw err;
    throw new Error(`Could not reach Discord at ${apiBase}: ${text}`);
  } finally {
    clearTimeout(timer);
  }
}
