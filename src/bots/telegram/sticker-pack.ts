/**
 * "Add to my pack": puts a sticker the bot has already sent (by its file_id) into the presser's own
 * sticker set, `animefy_u<user id>_by_<bot username>`, made on the first press. Telegram's refusals
 * the user can act on become AnimefyErrors; anything else is rethrown.
 *
 * Rules from the Bot API docs (createNewStickerSet, addStickerToSet): set names are 1-64 English
 * letters, digits and underscores, begin with a letter, have no consecutive underscores and end in
 * `_by_<bot username>` (case-insensitive); regular sets hold up to 120 stickers. The Bot API
 * documents no error texts: those matched here are the ones bots widely report (Telegram's MTProto
 * error names such as STICKERSET_INVALID, STICKERS_TOO_MUCH, PEER_ID_INVALID, and Bot API texts such
 * as "sticker set name is already occupied" and "user not found").
 */
import { GrammyError, type Api } from 'grammy';
import type { InputSticker } from 'grammy/types';
import { AnimefyError } from '../../errors.ts';

/** Regular sticker sets: "Other sticker sets can have up to 120 stickers" (addStickerToSet). */
export const STICKER_SET_LIMIT = 120;
const MAX_NAME_LENGTH = 64;
const MAX_TITLE_LENGTH = 64;

/**
 * The user's pack name: `animefy_u<id>_by_<bot>`, or `a<id in base 36>_by_<bot>` when a long bot
 * username would take it past 64 characters. Throws when no valid name can end in `_by_<bot>` (a
 * username with characters other than letters, digits and underscores, starting with an underscore,
 * with two underscores in a row, or too long).
 */
export function stickerSetName(userId: number, botUsername: string): string {
  if (!Number.isSafeInteger(userId) || userId <= 0) throw new RangeError(`not a Telegram user id: ${userId}`);
  const bot = botUsername.replace(/^@/, '').toLowerCase();
  if (!/^[a-z0-9_]+$/.test(bot) || bot.startsWith('_') || bot.includes('__')) {
    throw new RangeError(`no valid sticker set name can end in _by_${bot}`);
  }
  const suffix = `_by_${bot}`;
  for (const prefix of [`animefy_u${userId}`, `a${userId.toString(36)}`]) {
    if (prefix.length + suffix.length <= MAX_NAME_LENGTH) return prefix + suffix;
  }
  throw new RangeError(`bot username too long for a sticker set name: ${bot}`);
}

/** "<first name>'s Animefy stickers", at most 64 characters (whole graphemes of the name are cut). */
export function stickerSetTitle(firstName: string): string {
  const tail = "'s Animefy stickers";
  const name = firstName.replace(/\p{Cc}+/gu, ' ').replace(/\s+/g, ' ').trim();
  if (!name) return 'Animefy stickers';
  const graphemes = Array.from(new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(name), (s) => s.segment);
  while (graphemes.length > 0 && graphemes.join('').length + tail.length > MAX_TITLE_LENGTH) graphemes.pop();
  const kept = graphemes.join('').trim();
  return kept ? `${kept}${tail}` : 'Animefy stickers';
}

export interface AddToPackOptions {
  userId: number;
  botUsername: string;
  firstName: string;
  /** file_id of a sticker (or sticker file) already on Telegram. */
  sticker: string;
  format: 'static' | 'video';
  /** 1-20 emoji the sticker is filed under. */
  emoji: string[];
}

export interface AddToPackResult {
  /** Whether this press made the pack. */
  created: boolean;
  name: string;
  /** https://t.me/addstickers/<name> */
  url: string;
  /** Stickers in the pack now. */
  count: number;
}

export async function addToMyPack(api: Api, options: AddToPackOptions): Promise<AddToPackResult> {
  const { userId, format } = options;
  const name = stickerSetName(userId, options.botUsername);
  const input: InputSticker = { sticker: options.sticker, format, emoji_list: options.emoji };
  const result = (created: boolean, count: number): AddToPackResult => ({ created, name, url: `https://t.me/addstickers/${name}`, count });
  const added = async () => result(false, (await api.getStickerSet(name)).stickers.length);

  if (await tryAdd(api, userId, name, input, format)) return added();
  try {
    await api.createNewStickerSet(userId, name, stickerSetTitle(options.firstName), [input]);
    return result(true, 1);
  } catch (err) {
    if (!hasDescription(err, /sticker set name is already occupied|PACK_SHORT_NAME_OCCUPIED/i)) throw translate(err, name, format);
  }
  // The name is taken: by this user's own pack when two presses raced, else by someone else's set.
  if (await tryAdd(api, userId, name, input, format)) return added();
  throw new AnimefyError('STICKER_SET_NAME_TAKEN', { name });
}

/** addStickerToSet; false when the set does not exist (or is not this bot's and this user's). */
async function tryAdd(api: Api, userId: number, name: string, input: InputSticker, format: AddToPackOptions['format']): Promise<boolean> {
  try {
    await api.addStickerToSet(userId, name, input);
    return true;
  } catch (err) {
    if (hasDescription(err, /STICKERSET_INVALID/)) return false;
    throw translate(err, name, format);
  }
}

function hasDescription(err: unknown, pattern: RegExp): err is GrammyError {
  return err instanceof GrammyError && pattern.test(err.description);
}

/** Why Telegram refused a sticker file, in a few words, by its (reported) error text. */
const REJECTIONS: Array<[RegExp, (format: AddToPackOptions['format']) => string]> = [
  [/STICKER_(PNG|GIF)_DIMENSIONS/, () => 'it must be 512 px on its longest side'],
  [/file is too big|STICKER_VIDEO_BIG|too large/i, (format) => `it is over ${format === 'video' ? 256 : 512} KB`],
  [/STICKER_VIDEO_LONG/, () => 'it is longer than 3 seconds'],
  [/STICKER_PNG_NOPNG/, () => 'it is not a PNG or WebP picture'],
  [/STICKER_VIDEO_NOWEBM/, () => 'it is not a VP9 WebM video'],
  [/STICKER_FILE_INVALID|STICKER_TGS_NOTGS|IMAGE_PROCESS_FAILED|wrong file type|type of file mismatch/i, () => 'the file is not a sticker Telegram can use'],
];

/** The AnimefyError for a Telegram refusal the user can act on, else the error itself. */
function translate(err: unknown, name: string, format: AddToPackOptions['format']): unknown {
  if (!(err instanceof GrammyError)) return err;
  const d = err.description;
  if (/STICKERS_TOO_MUCH/.test(d)) return new AnimefyError('STICKER_SET_FULL', { limit: STICKER_SET_LIMIT }, { cause: err });
  if (/sticker set name is already occupied|PACK_SHORT_NAME_OCCUPIED/i.test(d)) return new AnimefyError('STICKER_SET_NAME_TAKEN', { name }, { cause: err });
  if (/PEER_ID_INVALID|user not found|bot can't initiate conversation/i.test(d)) return new AnimefyError('STICKER_NEEDS_PRIVATE_CHAT', {}, { cause: err });
  const rejection = REJECTIONS.find(([pattern]) => pattern.test(d));
  if (rejection) return new AnimefyError('STICKER_REJECTED', { reason: rejection[1](format) }, { cause: err });
  return err;
}
