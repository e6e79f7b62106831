/**
 * Texts both bots show about themselves: what they do, privacy, and the model licences. Plain text
 * (no markup), so each bot can send it as is. Style and mode lists come from their registries.
 */
import { MODES } from '../pipeline/modes.ts';
import { DEFAULT_STYLE, STYLES } from '../pipeline/styles.ts';

export function stylesText(): string {
  const lines = STYLES.map((s) => `${s.emoji} ${s.label} (${s.id}${s.id === DEFAULT_STYLE ? ', default' : ''}): ${s.description}`);
  return ['Styles:', ...lines].join('\n');
}

export function modesText(): string {
  return ['Modes:', ...MODES.map((m) => `• ${m.id}: ${m.description}`)].join('\n');
}

export const PRIVACY_TEXT =
  'Privacy: your file is downloaded only to make your result and is not kept after the reply. ' +
  'Nothing is used for training. Buttons under a result remember which file it came from (a reference, not the file) for a day.';

export function licenceText(): string {
  const licences = [...new Set(STYLES.map((s) => s.licence))];
  return [
    'Models: the anime looks come from AnimeGANv3 and White-box Cartoonization, whose weights are for non-commercial use only. ' +
      'Face detection (YuNet), person masks (MediaPipe, ISNet) and upscaling (Real-ESRGAN) use permissively licensed models.',
    ...licences.map((l) => `• ${l}`),
  ].join('\n');
}

export function aboutText(): string {
  return [
    'I turn photos, GIFs and short videos into anime: faces are found and drawn with a face model, the scene with a scene model, and the parts are blended back without seams. GIFs and videos keep their timing and sound.',
    '',
    PRIVACY_TEXT,
    '',
    licenceText(),
  ].join('\n');
}
