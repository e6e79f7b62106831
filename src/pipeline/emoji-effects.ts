/**
 * The animated emoji effects: one list for every surface (CLI help, the Telegram keyboard, Discord's
 * choices, the README). The frames are drawn by emoji.ts.
 */
import { AnimefyError } from '../errors.ts';

export const EMOJI_EFFECTS = [
  { id: 'bounce', label: 'Bounce', emoji: '🏀', description: 'Hops up and down, squashing as it lands.' },
  { id: 'shake', label: 'Shake', emoji: '😵', description: 'Shakes from side to side.' },
  { id: 'spin', label: 'Spin', emoji: '🌀', description: 'Turns round once.' },
  { id: 'zoom', label: 'Zoom', emoji: '🔍', description: 'Pops in close and back.' },
  { id: 'rainbow', label: 'Rainbow', emoji: '🌈', description: 'Cycles through the colours of the rainbow.' },
  { id: 'hearts', label: 'Hearts', emoji: '💕', description: 'Hearts float up around it.' },
] as const;

export type EmojiEffect = (typeof EMOJI_EFFECTS)[number]['id'];
export const EMOJI_EFFECT_IDS: readonly EmojiEffect[] = EMOJI_EFFECTS.map((e) => e.id);
export const DEFAULT_EMOJI_EFFECT: EmojiEffect = 'bounce';

/** The longest caption an emoji takes (it must stay readable at 128 px). */
export const MAX_CAPTION_CHARS = 16;

export function parseEmojiEffect(value: string): EmojiEffect {
  const v = value.trim().toLowerCase();
  const found = EMOJI_EFFECT_IDS.find((e) => e === v);
  if (found) return found;
  throw new AnimefyError('UNKNOWN_EFFECT', { effect: value, effects: EMOJI_EFFECT_IDS.join(', ') });
}
