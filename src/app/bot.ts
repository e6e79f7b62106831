/**
 * `npm start`: runs every bot whose token is set, over one queue (embedded workers, or Redis when
 * ANIMEFY_REDIS_URL is set). A platform without a token is skipped with a log line. SIGTERM/SIGINT
 * stop taking updates, let running jobs finish (ANIMEFY_SHUTDOWN_GRACE_S) or cancel them with a
 * message, then close the queue. A second signal exits at once.
 */
import { ConfigError, getConfig, type Config } from '../config.ts';
import { childLogger } from '../log.ts';
import { installProcessPolicy, processPolicy } from './process-policy.ts';
import { startQueueService, type QueueService } from './service.ts';
import { openBotState } from '../bots/state/open.ts';
import { discordCredentials, startDiscordBot, type RunningDiscordBot } from '../bots/discord/start.ts';
import { startTelegramBot, type RunningTelegramBot } from '../bots/telegram/start.ts';

export interface RunningBots {
  service: QueueService;
  /** Names of the bots that started. */
  bots: string[];
  telegram?: RunningTelegramBot;
  discord?: RunningDiscordBot;
  stop(): Promise<void>;
}

/** Test hooks (shorter timings); production passes none. */
export interface StartOverrides {
  discord?: Parameters<typeof startDiscordBot>[3];
  telegram?: Parameters<typeof startTelegramBot>[3];
}

interface Stoppable {
  name: string;
  stop(): Promise<void>;
}

export async function startBots(config: Config, overrides: StartOverrides = {}): Promise<RunningBots> {
  const log = childLogger({ module: 'main' });
  const wanted: string[] = [];
  if (config.TELEGRAM_BOT_TOKEN) wanted.push('telegram');
  else log.info('TELEGRAM_BOT_TOKEN is not set: the Telegram bot is skipped');
  if (config.DISCORD_TOKEN) {
    discordCredentials(config); // a missing DISCORD_APP_ID fails here, before any worker starts
    wanted.push('discord');
  } else log.info('DISCORD_TOKEN is not set: the Discord bot is skipped');
  if (wanted.length === 0) {
    throw new Error('No bot token is set: set TELEGRAM_BOT_TOKEN, or DISCORD_TOKEN and DISCORD_APP_ID (see .env.example), to run a bot.');
  }

  const service = await startQueueService(config);
  const state = await openBotState(config);
  const running: Stoppable[] = [];
  let telegram: RunningTelegramBot | undefined;
  let discord: RunningDiscordBot | undefined;
  try {
    if (config.TELEGRAM_BOT_TOKEN) {
      const bot = await startTelegramBot(config, service.queue, state, overrides.telegram);
      telegram = bot;
      running.push({ name: 'telegram', stop: () => bot.stop() });
    }
    if (config.DISCORD_TOKEN) {
      const bot = await startDiscordBot(config, service.queue, state, overrides.discord);
      discord = bot;
      running.push({ name: 'discord', stop: () => bot.stop() });
    }
  } catch (err) {
    await Promise.allSettled(running.map((b) => b.stop()));
    await state.close();
    await service.close({ cancelRunning: true });
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    service,
    bots: running.map((b) => b.name),
    telegram,
    discord,
    stop() {
      stopping ??= (async () => {
        const results = await Promise.allSettled(running.map((b) => b.stop()));
        for (const r of results) if (r.status === 'rejected') log.error({ err: String(r.reason) }, 'a bot did not stop cleanly');
        await state.close();
        await service.close({ cancelRunning: true });
      })();
      return stopping;
    },
  };
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = getConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const log = childLogger({ module: 'main' });
  let bots: RunningBots;
  try {
    bots = await startBots(config);
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'could not start');
    process.exit(1);
  }
  log.info({ bots: bots.bots }, 'animefy is running');
  const stopTimeoutMs = (config.ANIMEFY_SHUTDOWN_GRACE_S + 30) * 1000;
  installProcessPolicy(processPolicy({ log, stop: () => bots.stop(), exit: (code) => process.exit(code), stopTimeoutMs }));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal, graceS: config.ANIMEFY_SHUTDOWN_GRACE_S }, 'shutting down');
    // Whatever happens, the process ends: a stop that hangs (an unreachable API) is cut short.
    setTimeout(() => {
      log.error('shutdown took too long: exiting');
      process.exit(1);
    }, stopTimeoutMs).unref();
    bots.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('src/app/bot.ts')) {
  void main();
}
