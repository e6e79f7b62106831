/**
 * The caption under a result, for both bots: the style, the mode, upscale and kept faces when not the
 * default, and the pipeline's notes ("resampled to 30 fps", "shrunk to fit"), cut to the platform's limit.
 */
import { MODES, otherFaceLook, type FaceLook, type Mode, type Operation, type UpscaleFactor } from '../pipeline/modes.ts';
import type { JobResult } from '../queue/types.ts';
import { getStyle } from '../pipeline/styles.ts';

export function resultCaption(
  options: {
    style: string;
    mode: Mode;
    upscale: UpscaleFactor;
    faces?: FaceLook;
    notes: string[];
    operation?: Operation;
    chosen?: readonly number[];
    /** A smile's strength (smile, or with a style). */
    smile?: number;
    /** Landmarks: the faces marked (tracks). */
    marked?: number;
  },
  maxLength = 1024,
): string {
  const caption = [headline(options).join(' · '), ...options.notes.map((n) => `ℹ️ ${n}`)].join('\n');
  return caption.length > maxLength ? `${caption.slice(0, maxLength - 1)}…` : caption;
}

function headline(options: Parameters<typeof resultCaption>[0]): string[] {
  const who = options.chosen?.length ? ` ${options.chosen.join(', ')}` : '';
  switch (options.operation) {
    case 'erase':
      return [`🧽 Erased: person${options.chosen && options.chosen.length > 1 ? 's' : ''}${who}`];
    case 'smile':
      return [`😊 Smile${options.smile !== undefined ? ` ${Math.round(options.smile * 100)}%` : ''}`];
    case 'landmarks':
      return [`📍 Face landmarks${options.marked !== undefined ? `: ${options.marked} face${options.marked === 1 ? '' : 's'}` : ''}`];
    case 'sticker':
    case 'emoji':
      return [];
  }
  const style = getStyle(options.style);
  const parts = [`${style.emoji} ${style.label}`];
  if (options.mode !== 'full') parts.push(MODES.find((m) => m.id === options.mode)?.label ?? options.mode);
  if (options.mode === 'person' && who) parts.push(`person${options.chosen!.length > 1 ? 's' : ''}${who}`);
  if (options.upscale > 1) parts.push(`×${options.upscale}`);
  if (options.faces === 'keep') parts.push('faces kept');
  if (options.smile !== undefined) parts.push('😊 smiling');
  return parts;
}

/** How many faces a landmarks result marked (its tracks). */
export function markedFaces(result: Pick<JobResult, 'landmarks'>): number | undefined {
  return result.landmarks ? new Set(result.landmarks.map((f) => f.id)).size : undefined;
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
