/**
 * Bot API failures as they go into logs: the method, code and Telegram's description, never the
 * request (its URL carries the token) and never the media.
 */
import { GrammyError } from 'grammy';

export function describeApiError(err: unknown): string {
  if (err instanceof GrammyError) return `${err.method}: ${err.error_code} ${err.description}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
