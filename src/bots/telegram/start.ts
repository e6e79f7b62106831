/**
 * Runs the Telegram bot: long polling with @grammyjs/runner (updates handled concurrently), or a
 * webhook server when TELEGRAM_WEBHOOK_URL is set (Telegram's secret token checked on every call).
 * `stop()` stops taking updates first, then lets running jobs finish or cancels them with a message.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { GrammyError, webhookCallback } from 'grammy';
import { type Config, MB, mbToBytes } from '../../config.ts';
import { childLogger } from '../../log.ts';
import type { JobQueue } from '../../queue/types.ts';
import type { BotState } from '../state/open.ts';
import { createTelegramBot, type TelegramBot, type TelegramBotOptions } from './bot.ts';
import type { TelegramLimits } from './jobs.ts';
import { telegramCommands } from './features/index.ts';
import { describeApiError } from './api-error.ts';
import { Polling, type PollingOptions } from './polling.ts';

const OFFICIAL_API_HOST = 'api.telegram.org';
/** Updates the bot handles (everything else is not delivered at all). */
const ALLOWED_UPDATES = ['message', 'callback_query'] as const;

export interface RunningTelegramBot extends TelegramBot {
  /** Webhook mode: the port the server listens on. */
  webhookPort?: number;
  /** Long-polling mode: the watched runner. */
  polling?: Polling;
  stop(): Promise<void>;
}

/**
 * Telegram's file limits: 20 MB down and 50 MB up on api.telegram.org; a self-hosted Bot API server
 * allows 2000 MB. Inputs are capped by ANIMEFY_MAX_INPUT_MB as well.
 */
export function telegramLimits(config: Config): TelegramLimits {
  const official = new URL(config.TELEGRAM_API_ROOT).hostname.toLowerCase() === OFFICIAL_API_HOST;
  const downloadMb = config.TELEGRAM_MAX_DOWNLOAD_MB ?? (official ? 20 : 2000);
  const uploadMb = config.TELEGRAM_MAX_UPLOAD_MB ?? (official ? 50 : 2000);
  return {
    downloadBytes: Math.min(downloadMb * MB, mbToBytes(config.ANIMEFY_MAX_INPUT_MB)),
    uploadBytes: uploadMb * MB,
    maxOutputPixels: config.ANIMEFY_MAX_OUTPUT_PIXELS,
    maxClipSeconds: config.ANIMEFY_MAX_VIDEO_S,
  };
}

/** Test hooks (shorter timings); production passes none. */
export interface TelegramOverrides {
  polling?: Pick<PollingOptions, 'retryMs' | 'maxRetryMs'>;
  bot?: Pick<TelegramBotOptions, 'maxRetryDelayS' | 'editIntervalMs'>;
}

export async function startTelegramBot(config: Config, queue: JobQueue, state: BotState, overrides: TelegramOverrides = {}): Promise<RunningTelegramBot> {
  const token = config.TELEGRAM_BOT_TOKEN;
  if (!token) throw new Error('TELEGRAM_BOT_TOKEN is not set');
  const log = childLogger({ module: 'telegram' });
  const created = createTelegramBot({
    token,
    apiRoot: config.TELEGRAM_API_ROOT,
    queue,
    settings: state.settings,
    state: state.store,
    limits: telegramLimits(config),
    rateLimit: { jobs: config.ANIMEFY_RATE_LIMIT_JOBS, windowMs: config.ANIMEFY_RATE_LIMIT_WINDOW_S * 1000 },
    log,
    ...overrides.bot,
  });
  const { bot, jobs } = created;
  try {
    // One attempt (Bot.init would retry network errors forever): a wrong API root or token fails
    // the start with a clear message instead of hanging.
    bot.botInfo = await bot.api.getMe();
  } catch (err) {
    if (err instanceof GrammyError && err.error_code === 401) {
      throw new Error('Telegram refused TELEGRAM_BOT_TOKEN (401 Unauthorized): check the token from @BotFather');
    }
    throw new Error(`Could not reach the Telegram Bot API at ${config.TELEGRAM_API_ROOT}: ${describeApiError(err)}`);
  }
  await bot.api.setMyCommands(telegramCommands()).catch((err) => log.warn({ err: describeApiError(err) }, 'could not set the command menu'));

  const graceMs = config.ANIMEFY_SHUTDOWN_GRACE_S * 1000;
  if (config.TELEGRAM_WEBHOOK_URL) {
    const url = new URL(config.TELEGRAM_WEBHOOK_URL);
    const secret = config.TELEGRAM_WEBHOOK_SECRET ?? randomBytes(24).toString('base64url');
    const handle = webhookCallback(bot, 'http', { secretToken: secret, onTimeout: 'return', timeoutMilliseconds: 9000 });
    const server = http.createServer((req, res) => {
      if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://x').pathname !== url.pathname) {
        res.writeHead(404).end();
        return;
      }
      handle(req, res).catch((err: unknown) => {
        log.warn({ err: describeApiError(err) }, 'webhook update failed');
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.TELEGRAM_WEBHOOK_PORT, config.TELEGRAM_WEBHOOK_HOST, () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    await bot.api.setWebhook(url.href, { secret_token: secret, allowed_updates: [...ALLOWED_UPDATES] });
    log.info({ bot: bot.botInfo.username, port, path: url.pathname }, 'Telegram bot running (webhook)');
    return {
      ...created,
      webhookPort: port,
      async stop() {
        // Telegram keeps the webhook and queues updates until the bot is back.
        await new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await jobs.shutdown(graceMs);
      },
    };
  }

  await bot.api.deleteWebhook();
  const polling = new Polling(bot, log, { allowedUpdates: ALLOWED_UPDATES, ...overrides.polling });
  log.info({ bot: bot.botInfo.username }, 'Telegram bot running (long polling)');
  return {
    ...created,
    polling,
    async stop() {
      await polling.stop();
      await jobs.shutdown(graceMs);
    },
  };
}
