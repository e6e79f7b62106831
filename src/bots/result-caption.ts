/**
 * The caption under a result, for both bots: the style, the mode, upscale and kept faces when not the
 * default, and the pipeline's notes ("resampled to 30 fps", "shrunk to fit"), cut to the platform's limit.
 */
import { MODES, otherFaceLook, type FaceLook, type Mode, type Operation, type UpscaleFactor } from '../pipeline/modes.ts';
import type { JobResult } from '../queue/types.ts';
import { getStyle } from '../pipeline/styles.ts';

export function resultCaption(
  options: { style: string; mode: Mode; upscale: UpscaleFactor; faces?: FaceLook; notes: string[]; operation?: Operation; chosen?: readonly number[] },
  maxLength = 1024,
): string {
  const style = getStyle(options.style);
  const who = options.chosen?.length ? ` ${options.chosen.join(', ')}` : '';
  const parts = options.operation === 'erase' ? [`🧽 Erased: person${options.chosen && options.chosen.length > 1 ? 's' : ''}${who}`] : [`${style.emoji} ${style.label}`];
  if (options.operation !== 'erase' && options.mode !== 'full') parts.push(MODES.find((m) => m.id === options.mode)?.label ?? options.mode);
  if (options.operation !== 'erase' && options.mode === 'person' && who) parts.push(`person${options.chosen!.length > 1 ? 's' : ''}${who}`);
  if (options.upscale > 1) parts.push(`×${options.upscale}`);
  if (options.faces === 'keep') parts.push('faces kept');
  const caption = [parts.join(' · '), ...options.notes.map((n) => `ℹ️ ${n}`)].join('\n');
  return caption.length > maxLength ? `${caption.slice(0, maxLength - 1)}…` : caption;
}

/**
 * The face look a result's "switch faces" button offers, or undefined when switching would change
 * nothing: after anime faces, "Keep faces" once the face model drew at least one face; after kept
 * faces, "Anime faces" once there is a face (never in background mode, where faces stay real).
 */
export function offerFaceSwitch(look: FaceLook, result: Pick<JobResult, 'mode' | 'faceBoxes'>): FaceLook | undefined {
  if (result.mode === 'background') return undefined;
  if (look === 'anime') return result.faceBoxes.some((f) => f.renderer === 'face-model') ? otherFaceLook(look) : undefined;
  return result.faceBoxes.length > 0 ? otherFaceLook(look) : undefined;
}
