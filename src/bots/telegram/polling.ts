/**
 * Long polling that survives what @grammyjs/runner gives up on. The runner retries network errors
 * itself but re-throws 401 and 409 from its task, and then stops; an unwatched task would end the
 * whole process (an unhandled rejection), and every restart of a crashing process would also log
 * the Discord bot in again (Discord resets a token after 1000 IDENTIFYs a day). So the task is
 * watched:
 * - 409 Conflict (another instance polls with this token, or a webhook is set): logged, and polling
 *   starts again after a backoff that doubles up to a cap, until the other one goes away;
 * - 401 Unauthorized (the token was revoked): this bot stops, with one clear log line; the process
 *   and the other bots keep running;
 * - anything else: logged and retried the same way.
 */
import { GrammyError, type Bot } from 'grammy';
import { run, type RunnerHandle } from '@grammyjs/runner';
import type { Logger } from 'pino';
import { describeApiError } from './api-error.ts';

export interface PollingOptions {
  allowedUpdates: readonly string[];
  /** First wait after a failure (default 5 s); it doubles up to `maxRetryMs`. */
  retryMs?: number;
  /** Longest wait between tries (default 5 minutes). */
  maxRetryMs?: number;
}

export type PollingState = 'running' | 'retrying' | 'stopped' | 'unauthorized';

export class Polling {
  private runner?: RunnerHandle;
  private timer?: NodeJS.Timeout;
  private retryMs: number;
  private stopping = false;
  private current: PollingState = 'running';
  /** Resolves when polling ends for good (stopped, or the token refused). */
  readonly done: Promise<PollingState>;
  private finish!: (state: PollingState) => void;

  constructor(
    private readonly bot: Bot,
    private readonly log: Logger,
    private readonly options: PollingOptions,
  ) {
    this.retryMs = options.retryMs ?? 5000;
    this.done = new Promise((resolve) => (this.finish = resolve));
    this.start();
  }

  get state(): PollingState {
    return this.current;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    const runner = this.runner;
    this.runner = undefined;
    if (runner?.isRunning()) await runner.stop();
    this.end('stopped');
  }

  private start(): void {
    const startedAt = Date.now();
    const runner = run(this.bot, {
      runner: { fetch: { allowed_updates: [...this.options.allowedUpdates] as never, timeout: 30 }, silent: true, retryInterval: 'exponential', maxRetryTime: Infinity },
    });
    this.runner = runner;
    this.current = 'running';
    runner.task()?.then(
      () => undefined, // stopped on purpose
      (err: unknown) => this.failed(err, Date.now() - startedAt),
    );
  }

  private failed(err: unknown, ranMs: number): void {
    this.runner = undefined;
    if (this.stopping) return;
    const code = err instanceof GrammyError ? err.error_code : undefined;
    if (code === 401) {
      this.log.error({ err: describeApiError(err) }, 'Telegram refused the bot token (401 Unauthorized): the Telegram bot has stopped; other bots keep running. Set a valid TELEGRAM_BOT_TOKEN and restart.');
      this.end('unauthorized');
      return;
    }
    // A run that went well for a while starts the backoff over.
    const max = this.options.maxRetryMs ?? 300_000;
    if (ranMs > max) this.retryMs = this.options.retryMs ?? 5000;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, max);
    const reason = code === 409 ? 'another instance is polling with this token, or a webhook is set (409 Conflict)' : 'polling failed';
    this.log.warn({ err: describeApiError(err), retryInS: wait / 1000 }, `${reason}: trying again`);
    this.current = 'retrying';
    this.timer = setTimeout(() => this.start(), wait);
  }

  private end(state: PollingState): void {
    this.current = state;
    this.finish(state);
  }
}
