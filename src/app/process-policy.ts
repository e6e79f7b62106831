/**
 * What the bot process does with errors nobody caught. A rejected promise nobody awaited (a stray
 * API call, a runner task) is logged and the process keeps serving: one bad job or one platform's
 * trouble must not restart everything (and every restart logs the Discord bot in again, which
 * Discord limits to 1000 a day). An uncaught exception is different: the stack it unwound may have
 * left state half-changed, so the process stops gracefully (running jobs are told) and exits 1,
 * for the supervisor to start a clean one.
 */
import type { Logger } from 'pino';

export interface ProcessPolicy {
  onUnhandledRejection(reason: unknown): void;
  onUncaughtException(err: Error): void;
}

function describe(value: unknown): string {
  return value instanceof Error ? `${value.name}: ${value.message}` : String(value);
}

export function processPolicy(options: { log: Logger; stop: () => Promise<void>; exit: (code: number) => void; stopTimeoutMs: number }): ProcessPolicy {
  const { log } = options;
  let fatal = false;
  return {
    onUnhandledRejection(reason) {
      log.error({ err: describe(reason), stack: reason instanceof Error ? reason.stack : undefined }, 'unhandled promise rejection: logged, still running');
    },
    onUncaughtException(err) {
      log.fatal({ err: describe(err), stack: err.stack }, 'uncaught exception: stopping gracefully, then exiting');
      if (fatal) return; // a second one while stopping: the timer below ends it
      fatal = true;
      setTimeout(() => options.exit(1), options.stopTimeoutMs).unref();
      options.stop().then(
        () => options.exit(1),
        () => options.exit(1),
      );
    },
  };
}

export function installProcessPolicy(policy: ProcessPolicy): void {
  process.on('unhandledRejection', (reason) => policy.onUnhandledRejection(reason));
  process.on('uncaughtException', (err) => policy.onUncaughtException(err));
}
