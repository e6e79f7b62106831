/**
 * Modes: which part of the picture is stylized. One list for every surface (CLI, bots, docs).
 */
import { AnimefyError } from '../errors.ts';

export const MODES = [
  { id: 'full', label: 'Full', description: 'The whole picture, with anime faces.' },
  { id: 'person', label: 'Person', description: 'Only the chosen people (the largest unless you pick), on the real background.' },
  { id: 'background', label: 'Background', description: 'Only the background; the people stay real.' },
  { id: 'face', label: 'Face', description: 'An anime avatar of the largest face.' },
] as const;

export type Mode = (typeof MODES)[number]['id'];
export const MODE_IDS: readonly Mode[] = MODES.map((m) => m.id);
export const DEFAULT_MODE: Mode = 'full';

export function parseMode(value: string): Mode {
  const v = value.trim().toLowerCase();
  const found = MODE_IDS.find((m) => m === v);
  if (!found) throw new AnimefyError('UNKNOWN_MODE', { mode: value, modes: MODE_IDS.join(', ') });
  return found;
}

/**
 * The mode for a GIF or video: any but `face`, which makes an avatar from one photo. The one place
 * that refuses face mode on a clip.
 */
export function clipMode(mode: Mode): Exclude<Mode, 'face'> {
  if (mode === 'face') {
    throw new AnimefyError('BAD_OPTION', { detail: 'Face mode works on photos. For GIFs and videos use full, person or background.' });
  }
  return mode;
}

export const UPSCALE_FACTORS = [1, 2, 4] as const;
export type UpscaleFactor = (typeof UPSCALE_FACTORS)[number];

export function parseUpscale(value: string | number): UpscaleFactor {
  const n = Number(String(value).replace(/^x/i, ''));
  const found = UPSCALE_FACTORS.find((f) => f === n);
  if (found) return found;
  throw new AnimefyError('BAD_OPTION', { detail: `Upscale must be 1, 2 or 4 (got "${value}").` });
}

export const QUALITIES = ['fast', 'high'] as const;
export type Quality = (typeof QUALITIES)[number];

export function parseQuality(value: string): Quality {
  const v = value.trim().toLowerCase();
  const found = QUALITIES.find((q) => q === v);
  if (found) return found;
  throw new AnimefyError('BAD_OPTION', { detail: `Quality must be fast or high (got "${value}").` });
}

/**
 * How faces are drawn: `anime` by the face model where it draws them well (the others by the scene
 * model), `keep` always by the scene model with the photo's fine detail kept, so people stay
 * recognisable (a bearded man stays one).
 */
export const FACE_LOOKS = [
  { id: 'anime', label: 'Anime faces', emoji: '✨', description: 'Faces redrawn as anime faces (big eyes, smooth skin).' },
  { id: 'keep', label: 'Keep faces', emoji: '🙂', description: 'Faces keep their likeness, drawn in the scene style.' },
] as const;

export type FaceLook = (typeof FACE_LOOKS)[number]['id'];
export const FACE_LOOK_IDS: readonly FaceLook[] = FACE_LOOKS.map((f) => f.id);
export const DEFAULT_FACE_LOOK: FaceLook = 'anime';

export function parseFaceLook(value: string): FaceLook {
  const v = value.trim().toLowerCase();
  const found = FACE_LOOK_IDS.find((f) => f === v);
  if (found) return found;
  throw new AnimefyError('BAD_OPTION', { detail: `Faces must be ${FACE_LOOK_IDS.join(' or ')} (got "${value}").` });
}

/** The look a "switch faces" button offers after a result drawn with `look`. */
export function otherFaceLook(look: FaceLook): FaceLook {
  return look === 'anime' ? 'keep' : 'anime';
}

/**
 * What a job does with the picture: `animefy` (by mode), `erase` (removes the chosen people and
 * rebuilds the background behind them; photos only), `people` (the numbered picker preview, see
 * people-preview.ts), `sticker` (a die-cut cartoon of the person on a transparent background, see
 * sticker.ts), `emoji` (an animated reaction sticker made from that cut-out, see emoji.ts), `smile`
 * (a real photo, GIF or video with the faces made to smile, see smile.ts) and `landmarks` (each face's
 * box and 68 points drawn on every frame, see landmarks.ts). A clip's sticker and emoji are made from
 * its first frame.
 */
export const OPERATIONS = ['animefy', 'erase', 'people', 'sticker', 'emoji', 'smile', 'landmarks'] as const;
export type Operation = (typeof OPERATIONS)[number];
export const DEFAULT_OPERATION: Operation = 'animefy';

export function parseOperation(value: string): Operation {
  const v = value.trim().toLowerCase();
  const found = OPERATIONS.find((o) => o === v);
  if (found) return found;
  throw new AnimefyError('BAD_OPTION', { detail: `Operation must be one of ${OPERATIONS.join(', ')} (got "${value}").` });
}

/**
 * The operation for a GIF or video: erase is for photos only (the one place that refuses it on a
 * clip). Sticker and emoji use the clip's first frame.
 */
export function clipOperation(operation: Operation | undefined): Exclude<Operation, 'erase'> {
  if (operation === 'erase') throw new AnimefyError('ERASE_NOT_FOR_CLIPS');
  return operation ?? 'animefy';
}

/** Operations whose result is a sticker or an animated emoji made from one picture (a clip's first frame). */
export function isStickerOperation(operation: Operation | undefined): operation is 'sticker' | 'emoji' {
  return operation === 'sticker' || operation === 'emoji';
}

/** The smile strength when none is given (`--amount`, `--smile`). */
export const DEFAULT_SMILE_AMOUNT = 0.6;

export function parseSmileAmount(value: string | number): number {
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (Number.isFinite(n) && n >= 0 && n <= 1) return n;
  throw new AnimefyError('BAD_OPTION', { detail: `The smile amount must be a number from 0 to 1 (got "${value}").` });
}
