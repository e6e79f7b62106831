/**
 * Structured logging (pino, JSON on stderr). Never log tokens or image data: pass ids, sizes and
 * codes as context. `redact` catches the usual token-bearing keys in case one slips into a context.
 */
import { pino, type Logger } from 'pino';
import { getConfig } from './config.ts';

let root: Logger | undefined;

export function getLogger(): Logger {
  if (!root) {
    root = pino(
      {
        level: getConfig().LOG_LEVEL,
        base: { app: 'animefy' },
        redact: {
          paths: ['token', '*.token', 'botToken', '*.botToken', 'authorization', '*.authorization', 'headers.authorization'],
          censor: '[redacted]',
        },
      },
      pino.destination(2),
    );
  }
  return root;
}

export function childLogger(bindings: Record<string, unknown>): Logger {
  return getLogger().child(bindings);
}

/** For entry points that choose their own level (the CLI logs warnings only unless asked). */
export function setLogLevel(level: string): void {
  getLogger().level = level;
}
