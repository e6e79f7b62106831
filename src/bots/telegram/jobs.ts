/**
 * Telegram's side of the shared job flow (`../job-flow.ts`): downloads by file_id, a status message
 * that follows the queue (position, stage, percent; paced per chat), the chat action while it runs,
 * the result with its buttons, or a short kind message when anything goes wrong. Jobs run in the
 * background: update handlers return at once, so long polling and webhooks never wait on a job.
 */
import { GrammyError, InputFile, type Api } from 'grammy';
import type { InlineKeyboardMarkup } from 'grammy/types';
import type { Logger } from 'pino';
import { AnimefyError } from '../../errors.ts';
import type { FaceLook, Mode, UpscaleFactor } from '../../pipeline/modes.ts';
import type { JobQueue, JobResult } from '../../queue/types.ts';
import type { ActiveJob } from '../active-jobs.ts';
import { canUpscale, PlatformJobs, resultFileName, warningText, type Admission } from '../job-flow.ts';
import type { RateLimiter } from '../rate-limit.ts';
import type { ReferenceStore } from '../references.ts';
import { downloadFile } from './download.ts';
import { cancelKeyboard, resultKeyboard } from './keyboards.ts';
import { chatActionFor, declaredKind, replyMethod, requestedFormat, type MediaRef } from './media.ts';
import { offerFaceSwitch, resultCaption } from '../result-caption.ts';
import { ChatActionLoop, ChatPacer, StatusMessage } from './status-message.ts';
import { describeApiError } from './api-error.ts';

export interface TelegramLimits {
  /** Largest input fetched from Telegram. */
  downloadBytes: number;
  /** Largest result uploaded (the worker shrinks results to fit). */
  uploadBytes: number;
  /** Largest result in pixels (decides whether "Upscale" is offered). */
  maxOutputPixels: number;
  /** Longest GIF or video accepted, in seconds (for the help text). */
  maxClipSeconds: number;
}

/** What a button remembers about a job: enough to run it again, never the media. */
export interface JobReference {
  media: MediaRef;
  chatId: number;
  /** The user's message holding the media (results reply to it). */
  sourceMessageId: number;
  requesterId: number;
  style: string;
  mode: Mode;
  upscale: UpscaleFactor;
  faces: FaceLook;
  /** A style keyboard on someone's own media: only they may pick. Result buttons are for everyone. */
  onlyRequester: boolean;
}

export interface JobSpec {
  chatId: number;
  sourceMessageId: number;
  requester: { id: number };
  media: MediaRef;
  style: string;
  mode: Mode;
  upscale: UpscaleFactor;
  faces: FaceLook;
  /** A bot message (a style keyboard) to turn into the status message; else a new reply is sent. */
  statusMessageId?: number;
}

export interface TelegramJobsDeps {
  api: Api;
  apiRoot: string;
  token: string;
  queue: JobQueue;
  limits: TelegramLimits;
  rateLimiter: RateLimiter;
  refs: ReferenceStore<JobReference>;
  pacer: ChatPacer;
  log: Logger;
}

export class TelegramJobs extends PlatformJobs {
  constructor(private readonly deps: TelegramJobsDeps) {
    super({ platform: 'telegram', queue: deps.queue, rateLimiter: deps.rateLimiter, log: deps.log, describeError: describeApiError });
  }

  /** Starts a job in the background; every outcome reaches the chat. */
  start(spec: JobSpec): void {
    this.flow.start(String(spec.requester.id), (job, token) => this.run(token, job, spec), { chatId: spec.chatId });
  }

  /** Telegram's side of the job flow: a status message that follows the job, and the chat action. */
  private async run(token: string, job: ActiveJob, spec: JobSpec): Promise<void> {
    const { api, limits } = this.deps;
    let admission: Admission;
    let status: StatusMessage;
    const cancelButton = cancelKeyboard(token);
    try {
      admission = this.flow.admit(String(spec.requester.id));
    } catch (err) {
      await api.sendMessage(spec.chatId, warningText(err), replyTo(spec.sourceMessageId));
      return;
    }
    try {
      status = await this.openStatus(spec, '📥 Getting your file…', cancelButton);
    } catch (err) {
      admission.refund();
      throw err;
    }
    let kind = declaredKind(spec.media);
    let action: ChatActionLoop | undefined;
    await this.flow.execute(job, admission, {
      download: (signal) => downloadFile(spec.media, { api, apiRoot: this.deps.apiRoot, token: this.deps.token, maxBytes: limits.downloadBytes, signal }),
      declaredKind: kind,
      options: (sniffed) => {
        kind = sniffed;
        return {
          style: spec.style,
          mode: spec.mode,
          upscale: spec.upscale,
          faces: spec.faces,
          quality: 'fast',
          format: requestedFormat(spec.media, sniffed),
          maxBytes: limits.uploadBytes,
        };
      },
      surface: {
        status: (text) => status.update(text, cancelButton),
        running: () => {
          action ??= new ChatActionLoop(api, spec.chatId, chatActionFor(kind));
          action.start();
        },
        deliver: async (result) => {
          action?.stop();
          await this.sendResult(spec, result);
          await status.remove();
        },
        fail: async (text) => {
          action?.stop();
          await status.finish(text);
        },
      },
      context: { chatId: spec.chatId },
    });
  }

  private async openStatus(spec: JobSpec, text: string, markup: InlineKeyboardMarkup): Promise<StatusMessage> {
    const { api, pacer, log } = this.deps;
    if (spec.statusMessageId !== undefined) {
      const status = new StatusMessage(api, spec.chatId, spec.statusMessageId, '', pacer, log);
      status.update(text, markup);
      return status;
    }
    pacer.reserve(spec.chatId);
    const message = await api.sendMessage(spec.chatId, text, { ...replyTo(spec.sourceMessageId), reply_markup: markup });
    return new StatusMessage(api, spec.chatId, message.message_id, text, pacer, log, markup);
  }

  private async sendResult(spec: JobSpec, result: JobResult): Promise<void> {
    const { api, refs, limits } = this.deps;
    const token = refs.put({
      media: spec.media,
      chatId: spec.chatId,
      sourceMessageId: spec.sourceMessageId,
      requesterId: spec.requester.id,
      style: spec.style,
      mode: spec.mode,
      upscale: spec.upscale,
      faces: spec.faces,
      onlyRequester: false,
    });
    const reply_markup = resultKeyboard({
      token,
      requesterId: spec.requester.id,
      canUpscale: canUpscale(result, spec.upscale, limits.maxOutputPixels),
      otherFaces: offerFaceSwitch(spec.faces, result),
    });
    const caption = resultCaption({ style: spec.style, mode: spec.mode, upscale: spec.upscale, faces: spec.faces, notes: result.notes });
    const file = () => new InputFile(result.data, resultFileName(spec.style, result.format));
    const common = { ...replyTo(spec.sourceMessageId), reply_markup };
    const size = { width: result.width, height: result.height };
    const duration = result.media ? Math.max(1, Math.round(result.media.duration)) : undefined;

    const method = replyMethod(spec.media, result);
    try {
      switch (method) {
        case 'photo':
          await api.sendPhoto(spec.chatId, file(), { ...common, caption });
          return;
        case 'sticker':
          await api.sendSticker(spec.chatId, file(), common);
          return;
        case 'animation':
          await api.sendAnimation(spec.chatId, file(), { ...common, caption, ...size, duration });
          return;
        case 'video':
          await api.sendVideo(spec.chatId, file(), { ...common, caption, ...size, duration, supports_streaming: true });
          return;
        case 'document':
          await api.sendDocument(spec.chatId, file(), { ...common, caption });
          return;
      }
    } catch (err) {
      // Telegram refuses some pictures as photos or stickers (odd sizes): a document always works.
      if (method !== 'document' && err instanceof GrammyError && err.error_code === 400) {
        this.deps.log.warn({ err: describeApiError(err), method }, 'sending as a document instead');
        await api.sendDocument(spec.chatId, file(), { ...common, caption });
        return;
      }
      if (err instanceof GrammyError && err.error_code === 413) throw new AnimefyError('RESULT_TOO_LARGE', { limit: `${Math.round(limits.uploadBytes / 2 ** 20)} MB` });
      throw err;
    }
  }
}

export function replyTo(messageId: number) {
  return { reply_parameters: { message_id: messageId, allow_sending_without_reply: true } };
}
