/**
 * Modes: which part of the picture is stylized. One list for every surface (CLI, bots, docs).
 */
import { AnimefyError } from '../errors.ts';

export const MODES = [
  { id: 'full', label: 'Full', description: 'The whole picture, with anime faces.' },
  { id: 'person', label: 'Person', description: 'Only the people; the real background is kept.' },
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
