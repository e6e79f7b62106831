/** The long side a sticker or emoji is drawn at: Telegram wants 512, Discord 320 (stickers) or 128 (emoji). */
import { AnimefyError } from '../errors.ts';

export const MIN_STICKER_SIZE = 16;
export const MAX_STICKER_SIZE = 512;
export const DEFAULT_STICKER_SIZE = 512;
/** A GIF emoji's default side (Discord's emoji size). */
export const DEFAULT_GIF_EMOJI_SIZE = 128;

export function parseStickerSize(value: string | number): number {
  const n = typeof value === 'number' ? value : Number(String(value).trim().replace(/px$/i, ''));
  if (Number.isInteger(n) && n >= MIN_STICKER_SIZE && n <= MAX_STICKER_SIZE) return n;
  throw new AnimefyError('BAD_OPTION', { detail: `The size must be a whole number of pixels from ${MIN_STICKER_SIZE} to ${MAX_STICKER_SIZE} (got "${value}").` });
}
