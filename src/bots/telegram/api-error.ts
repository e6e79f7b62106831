/**
 * Bot API failures as they go into logs: the method, code and Telegram's description, never the
 * request (its URL carries the token) and never the media.
 */
import { GrammyError } from 'grammy';

/**
 * 403 from Telegram: the user blocked the bot, deleted their account, or the bot was removed from
 * the group. Nothing to fix on our side, so it is logged at info level, not as an error.
 */
export function isBlockedError(err: unknown): boolean {
  return err instanceof GrammyError && err.error_code === 403;
}

export function describeApiError(err: unknown): string {
  if (err instanceof GrammyError) return `${err.method}: ${err.error_code} ${err.description}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
