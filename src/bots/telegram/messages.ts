/**
 * What the Telegram bot says (plain text). Errors come from the one table in src/errors.ts; this file
 * holds the Telegram-specific texts (/help itself is features/help.ts).
 */
import { getStyle } from '../../pipeline/styles.ts';

export const NO_MEDIA_TEXT = 'Send me a photo, a GIF or a short video (or reply to one with /animefy) and I will animefy it. /help has the details.';

export function pickStyleText(unknown?: string): string {
  return unknown ? `I don't know the style "${unknown}". Pick one:` : '🎨 Which style?';
}

export function defaultStyleSet(style: string | undefined): string {
  if (!style) return 'OK: I will ask for a style every time.';
  const s = getStyle(style);
  return `${s.emoji} ${s.label} is now this chat's default style. /style changes it.`;
}
