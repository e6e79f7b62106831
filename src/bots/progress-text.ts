/**
 * What a job's progress looks like in a chat, for both bots: the place in line, then the stage in
 * plain words with a percentage and a small bar. Platform formatting stays out (plain text).
 */
import type { ProgressEvent, Stage } from '../pipeline/progress.ts';

export const STAGE_LABELS: Record<Stage, string> = {
  decode: '📥 Reading your file',
  faces: '🔎 Finding faces',
  mask: '✂️ Finding people',
  stylize: '🎨 Painting',
  colour: '🎨 Matching colours',
  face_stylize: '🙂 Drawing faces',
  grade: '✨ Finishing touches',
  compose: '🧩 Putting it together',
  upscale: '🔍 Upscaling',
  encode: '📦 Saving',
  frames: '🎞 Drawing frames',
};

export function queuedText(position: number): string {
  return position <= 1 ? '⏳ Queued: you are next.' : `⏳ Queued: position ${position}.`;
}

export const STARTING_TEXT = '🎨 Starting…';

export function progressText(event: ProgressEvent): string {
  const percent = Math.max(0, Math.min(100, Math.round(event.percent)));
  const frames = event.stage === 'frames' && event.frames ? ` (frame ${event.frame ?? 0} of ${event.frames})` : '';
  return `${STAGE_LABELS[event.stage] ?? '🎨 Working'}${frames}… ${percent}%\n${progressBar(percent)}`;
}

export function progressBar(percent: number, width = 10): string {
  const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return '▰'.repeat(filled) + '▱'.repeat(width - filled);
}
