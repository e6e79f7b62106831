/**
 * /smile and /landmarks, as the caption of a photo, GIF or video or in a reply to one. /smile [amount]
 * makes the faces smile and stays a real photo (or clip); /landmarks draws each face's box and 68
 * points on every frame, anime faces too. Same queue, limits and progress as /animefy.
 */
import { Composer, type Context } from 'grammy';
import { DEFAULT_SMILE_AMOUNT, parseSmileAmount } from '../../../pipeline/modes.ts';
import { jobFor, onMediaCommand, type TelegramFeature } from './feature.ts';

const SMILE_USAGE = 'Send /smile as the caption of a photo, GIF or video, or reply to one with /smile. Add how much, from 0 to 1 (or 0–100%): /smile 0.8.';
const LANDMARKS_USAGE = 'Send /landmarks as the caption of a photo, GIF or video, or reply to one with /landmarks.';

export const faceFun: TelegramFeature = {
  menu: [
    { command: 'smile', description: 'Make the faces smile, still a real photo or clip (caption or reply)' },
    { command: 'landmarks', description: 'Draw face landmarks on a photo, GIF or video (caption or reply)' },
  ],
  composer(deps) {
    const composer = new Composer<Context>();
    onMediaCommand(composer, deps, ['smile'], SMILE_USAGE, (command) => {
      deps.jobs.start(jobFor(command, { operation: 'smile', extras: { smile: parseAmount(command.args) } }));
    });
    onMediaCommand(composer, deps, ['landmarks'], LANDMARKS_USAGE, (command) => {
      deps.jobs.start(jobFor(command, { operation: 'landmarks' }));
    });
    return composer;
  },
};

/** "0.8", "80%" or "80": how much to smile (default 0.6). */
export function parseAmount(args: string): number {
  const word = args.trim().split(/\s+/)[0] ?? '';
  if (!word) return DEFAULT_SMILE_AMOUNT;
  const percent = /%$/.test(word) || Number(word) > 1;
  const n = Number(word.replace(/%$/, ''));
  return parseSmileAmount(percent && Number.isFinite(n) ? n / 100 : word);
}
