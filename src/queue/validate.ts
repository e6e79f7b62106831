/**
 * Cheap checks made when a job is submitted, so a request that can never succeed is refused at once
 * instead of after waiting in line. The pipeline checks the media itself again (it is the authority).
 */
import { AnimefyError, formatBytes } from '../errors.ts';
import { isOutputFormat, OUTPUT_FORMATS } from '../pipeline/encode.ts';
import { isMediaFormat, MEDIA_FORMATS } from '../pipeline/media/frames.ts';
import { parseEmojiEffect } from '../pipeline/emoji-effects.ts';
import { clipMode, clipOperation, parseFaceLook, parseMode, parseOperation, parseQuality, parseSmileAmount, parseUpscale } from '../pipeline/modes.ts';
import { parseStickerSize } from '../pipeline/sticker-size.ts';
import { checkPersonOption, parsePersonChoice } from '../pipeline/person-choice.ts';
import { getStyle } from '../pipeline/styles.ts';
import { MEDIA_KINDS, type JobRequest } from './types.ts';

/** The smallest upload limit a job may ask its result to fit (`JobOptions.maxBytes`). */
export const MIN_RESULT_BYTES = 64 * 1024;

export interface SubmitLimits {
  maxInputBytes: number;
}

export function validateRequest(request: JobRequest, limits: SubmitLimits): void {
  const { input, kind, options, requester } = request;
  if (!requester?.platform || !requester.userId) throw new TypeError('A job needs a requester (platform and userId)');
  if (!MEDIA_KINDS.includes(kind)) throw new AnimefyError('BAD_OPTION', { detail: `Unknown media kind "${String(kind)}".` });
  if (!input || input.byteLength === 0) throw new AnimefyError('EMPTY_INPUT');
  if (input.byteLength > limits.maxInputBytes) throw new AnimefyError('INPUT_TOO_LARGE', { limit: formatBytes(limits.maxInputBytes) });
  getStyle(options.style);
  parseMode(options.mode);
  parseUpscale(options.upscale);
  parseQuality(options.quality);
  if (options.faces !== undefined) parseFaceLook(options.faces);
  if (options.operation !== undefined) parseOperation(options.operation);
  if (options.person !== undefined) parsePersonChoice(options.person);
  checkPersonOption(options.mode, options.operation, options.person);
  if (options.body !== undefined && typeof options.body !== 'boolean') throw new AnimefyError('BAD_OPTION', { detail: 'body must be true or false.' });
  if (options.effect !== undefined) parseEmojiEffect(options.effect);
  if (options.text !== undefined && typeof options.text !== 'string') throw new AnimefyError('BAD_OPTION', { detail: 'The caption must be text.' });
  if (options.size !== undefined) parseStickerSize(options.size);
  if (options.smile !== undefined) parseSmileAmount(options.smile);
  if (options.format !== undefined && !isOutputFormat(options.format) && !isMediaFormat(options.format)) {
    throw new AnimefyError('BAD_OPTION', { detail: `Output format must be one of ${[...OUTPUT_FORMATS, ...MEDIA_FORMATS].join(', ')}.` });
  }
  if (options.maxBytes !== undefined && !(Number.isSafeInteger(options.maxBytes) && options.maxBytes >= MIN_RESULT_BYTES)) {
    throw new AnimefyError('BAD_OPTION', {
      detail: `The upload limit (maxBytes) must be a whole number of bytes, at least ${formatBytes(MIN_RESULT_BYTES)}.`,
    });
  }
  if (kind !== 'image') {
    clipOperation(options.operation);
    if (options.operation !== 'people') clipMode(options.mode);
  }
  if (request.priority !== undefined && !Number.isFinite(request.priority)) {
    throw new AnimefyError('BAD_OPTION', { detail: 'Priority must be a number.' });
  }
}
