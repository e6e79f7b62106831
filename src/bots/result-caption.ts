/**
 * The caption under a result, for both bots: the style, the mode and upscale when not the default,
 * and the pipeline's notes ("resampled to 30 fps", "shrunk to fit"), cut to the platform's limit.
 */
import { MODES, type Mode, type UpscaleFactor } from '../pipeline/modes.ts';
import { getStyle } from '../styles.ts';

export function resultCaption(options: { style: string; mode: Mode; upscale: UpscaleFactor; notes: string[] }, maxLength = 1024): string {
  const style = getStyle(options.style);
  const parts = [`${style.emoji} ${style.label}`];
  if (options.mode !== 'full') parts.push(MODES.find((m) => m.id === options.mode)?.label ?? options.mode);
  if (options.upscale > 1) parts.push(`×${options.upscale}`);
  const caption = [parts.join(' · '), ...options.notes.map((n) => `ℹ️ ${n}`)].join('\n');
  return caption.length > maxLength ? `${caption.slice(0, maxLength - 1)}…` : caption;
}
