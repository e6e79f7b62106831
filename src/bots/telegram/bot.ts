/**
 * The Telegram bot: one grammY `Bot` with its features (features/*.ts, one Composer each) registered
 * in order behind an error boundary: one failing update never stops the bot. Jobs live in jobs.ts.
 */
import { Bot } from 'grammy';
import type { Logger } from 'pino';
import { autoRetry } from '@grammyjs/auto-retry';
import { AnimefyError } from '../../errors.ts';
import type { JobQueue } from '../../queue/types.ts';
import type { ChatSettingsStore } from '../chat-settings.ts';
import { RateLimiter } from '../rate-limit.ts';
import { ReferenceStore } from '../references.ts';
import { FileStateStore, type StateStore } from '../state/store.ts';
import { REFERENCE_TTL_MS, warningText } from '../job-flow.ts';
import { TelegramJobs, type JobReference, type TelegramLimits } from './jobs.ts';
import { ChatPacer } from './status-message.ts';
import { describeApiError, isBlockedError } from './api-error.ts';
import { answerExpired, chatKey, type FeatureDeps, type TelegramFeature } from './features/feature.ts';
import { followMigratedChats } from './migration.ts';
import { telegramCommands, telegramFeatures } from './features/index.ts';

export interface TelegramBotOptions {
  token: string;
  apiRoot: string;
  queue: JobQueue;
  settings: ChatSettingsStore;
  limits: TelegramLimits;
  rateLimit: { jobs: number; windowMs: number };
  log: Logger;
  /** Where button references and rate-limit logs live (default: this process's memory). */
  state?: StateStore;
  /** Buttons under results work this long (default a day). */
  referenceTtlMs?: number;
  /** Minimum time between status edits in one chat (default 2 s). */
  editIntervalMs?: number;
  /** Longest flood-control wait auto-retry sits out itself (default 60 s; longer ones reach the job code). */
  maxRetryDelayS?: number;
  /** The features (default: all of features/index.ts). */
  features?: readonly TelegramFeature[];
}

export interface TelegramBot {
  bot: Bot;
  jobs: TelegramJobs;
}

export function createTelegramBot(options: TelegramBotOptions): TelegramBot {
  const { log } = options;
  const bot = new Bot(options.token, { client: { apiRoot: options.apiRoot, timeoutSeconds: 120 } });
  // 429 (flood control) and 5xx answers are retried after the delay Telegram asks for. Network
  // errors are not retried here (the plugin would retry them forever): polling retries on its own,
  // and a job whose reply cannot be sent is logged.
  bot.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: options.maxRetryDelayS ?? 60, rethrowHttpErrors: true }));
  const moveSettings = (from: number, to: number) =>
    void options.settings.move(chatKey(from), chatKey(to)).catch((err: unknown) => log.warn({ err: String(err) }, 'chat settings not moved'));
  bot.api.config.use(followMigratedChats(moveSettings, log));

  // Button references and rate-limit logs live in the shared state (Redis, or a file): another
  // process, or this one after a restart, still knows them.
  const state = options.state ?? FileStateStore.inMemory();
  const refs = new ReferenceStore<JobReference>(state, 'telegram', options.referenceTtlMs ?? REFERENCE_TTL_MS);
  const jobs = new TelegramJobs({
    api: bot.api,
    apiRoot: options.apiRoot,
    token: options.token,
    queue: options.queue,
    limits: options.limits,
    rateLimiter: new RateLimiter(state, options.rateLimit.jobs, options.rateLimit.windowMs),
    refs,
    pacer: new ChatPacer(options.editIntervalMs ?? 2000),
    log,
  });
  const features = options.features ?? telegramFeatures();
  const deps: FeatureDeps = { api: bot.api, jobs, refs, settings: options.settings, limits: options.limits, log, menu: telegramCommands(features) };

  const guarded = bot.errorBoundary((err) => {
    const entry = { err: describeApiError(err.error), update: err.ctx.update.update_id };
    if (isBlockedError(err.error)) return void log.info(entry, 'the user blocked the bot or removed it: no reply sent');
    log.error(entry, 'update handler failed');
    // Whoever was talking to the bot still gets an answer.
    if (err.ctx.callbackQuery) void err.ctx.answerCallbackQuery().catch(() => undefined);
    else if (err.ctx.chat?.type === 'private') void err.ctx.reply(warningText(new AnimefyError('INTERNAL'))).catch(() => undefined);
  });
  // The service message of a group → supergroup migration: the chat's settings move to the new id.
  guarded.on('message:migrate_to_chat_id', (ctx) => moveSettings(ctx.chat.id, ctx.message.migrate_to_chat_id));
  for (const feature of features) guarded.use(feature.composer(deps));
  // A button no feature knows (from an older version of the bot): it has expired.
  guarded.on('callback_query:data', (ctx) => answerExpired(ctx));

  return { bot, jobs };
}
