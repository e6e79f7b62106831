/**
 * Reading what a user typed: a leading command (`/animefy`, `/animefy@ThisBot`), and the words that
 * choose a style, a mode and an upscale ("/animefy shinkai person x2", or just "shinkai" as a
 * caption in a private chat).
 */
import type { MessageEntity } from 'grammy/types';
import { MODE_IDS, type FaceLook, type Mode, type UpscaleFactor } from '../../pipeline/modes.ts';
import { findStyle } from '../../pipeline/styles.ts';

export interface ParsedCommand {
  /** Lower-case command name without the slash. */
  name: string;
  /** Everything after the command. */
  args: string;
  /** `/cmd@OtherBot`: meant for another bot in the group; ignore the message. */
  forOtherBot: boolean;
}

export function parseCommand(text: string | undefined, botUsername: string): ParsedCommand | undefined {
  const match = /^\/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,64}))?(?=\s|$)([\s\S]*)$/.exec(text?.trimStart() ?? '');
  if (!match) return undefined;
  const target = match[2];
  return {
    name: match[1].toLowerCase(),
    args: match[3].trim(),
    forOtherBot: target !== undefined && target.toLowerCase() !== botUsername.toLowerCase(),
  };
}

/** True when the text mentions the bot (an @username mention, or a text mention of its id). */
export function mentionsBot(text: string | undefined, entities: MessageEntity[] | undefined, bot: { id: number; username: string }): boolean {
  if (!text || !entities) return false;
  return entities.some((e) => {
    if (e.type === 'text_mention') return e.user.id === bot.id;
    if (e.type !== 'mention') return false;
    return text.slice(e.offset + 1, e.offset + e.length).toLowerCase() === bot.username.toLowerCase();
  });
}

export interface JobWords {
  style?: string;
  mode?: Mode;
  upscale?: UpscaleFactor;
  faces?: FaceLook;
  /** Words that are none of the above (the first unknown is reported when a command asked). */
  unknown: string[];
}

/** "keep", "keepfaces", "real" or "likeness": faces keep their likeness; "anime": anime faces. */
const FACE_WORDS: Record<string, FaceLook> = { keep: 'keep', keepfaces: 'keep', keep_faces: 'keep', real: 'keep', likeness: 'keep', anime: 'anime' };

const UPSCALE_WORDS: Record<string, UpscaleFactor> = { x2: 2, '2x': 2, '×2': 2, upscale: 2, hd: 2, x4: 4, '4x': 4, '×4': 4 };

export function parseJobWords(text: string, botUsername?: string): JobWords {
  const words: JobWords = { unknown: [] };
  for (const raw of text.split(/[\s,]+/)) {
    let word = raw.trim().toLowerCase();
    if (!word) continue;
    if (botUsername && word === `@${botUsername.toLowerCase()}`) continue;
    word = word.replace(/^(style|mode)[:=]/, '');
    const style = findStyle(word);
    if (style && !words.style) {
      words.style = style.id;
      continue;
    }
    const mode = MODE_IDS.find((m) => m === word);
    if (mode && !words.mode) {
      words.mode = mode;
      continue;
    }
    const upscale = UPSCALE_WORDS[word];
    if (upscale && !words.upscale) {
      words.upscale = upscale;
      continue;
    }
    const faces = FACE_WORDS[word];
    if (faces && !words.faces) {
      words.faces = faces;
      continue;
    }
    words.unknown.push(raw.trim());
  }
  return words;
}
