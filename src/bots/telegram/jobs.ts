/**
 * One Telegram job from start to finish: rate limit, download, submit, a status message that follows
 * the queue (position, stage, percent; paced per chat), the chat action while it runs, the result
 * with its buttons, or a short kind message when anything goes wrong. Jobs run in the background:
 * update handlers return at once, so long polling and webhooks never wait on a job.
 */
import { GrammyError, InputFile, type Api } from 'grammy';
import type { InlineKeyboardMarkup } from 'grammy/types';
import type { Logger } from 'pino';
import { AnimefyError, isAnimefyError, userMessage } from '../../errors.ts';
import { detectMediaKind } from '../../pipeline/media/sniff.ts';
import type { FaceLook, Mode, UpscaleFactor } from '../../pipeline/modes.ts';
import type { JobHandle, JobQueue, JobResult } from '../../queue/types.ts';
import { progressText, queuedText, STARTING_TEXT } from '../progress-text.ts';
import { formatWait, type RateLimiter } from '../rate-limit.ts';
import type { ReferenceStore } from '../references.ts';
import { ActiveJobs, type ActiveJob, type CancelOutcome } from '../active-jobs.ts';
import { downloadFile } from './download.ts';
import { cancelKeyboard, resultKeyboard } from './keyboards.ts';
import { chatActionFor, declaredKind, replyMethod, requestedFormat, type MediaRef } from './media.ts';
import { offerFaceSwitch } from '../result-caption.ts';
import { resultCaption } from './messages.ts';
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

export class TelegramJobs {
  private readonly active = new ActiveJobs();

  constructor(private readonly deps: TelegramJobsDeps) {}

  get running(): number {
    return this.active.size;
  }

  /** Starts a job in the background; every outcome reaches the chat. */
  start(spec: JobSpec): void {
    this.active.start(String(spec.requester.id), (job, token) =>
      this.run(token, job, spec).catch((err) => this.deps.log.error({ err: describeApiError(err), chatId: spec.chatId }, 'job reply failed')),
    );
  }

  /** The ✖ Cancel button: only the requester may. */
  cancel(token: string, userId: number): Promise<CancelOutcome> {
    return this.active.cancel(token, String(userId));
  }

  /**
   * Stops taking jobs, lets running ones finish for up to `graceMs`, then cancels the rest (each
   * user is told the bot is restarting).
   */
  shutdown(graceMs: number): Promise<void> {
    return this.active.shutdown(graceMs, (jobs) => this.deps.log.info({ jobs, graceMs }, 'waiting for running jobs'));
  }

  private async run(token: string, job: ActiveJob, spec: JobSpec): Promise<void> {
    const { api, limits, log } = this.deps;
    const { controller } = job;
    const rateKey = `telegram:${spec.requester.id}`;
    let status: StatusMessage | undefined;
    let action: ChatActionLoop | undefined;
    const cancelButton = cancelKeyboard(token);
    try {
      if (this.active.closing) throw new AnimefyError('SHUTTING_DOWN');
      const rate = this.deps.rateLimiter.take(rateKey);
      if (!rate.ok) throw new AnimefyError('RATE_LIMITED', { wait: formatWait(rate.retryAfterMs) });

      status = await this.openStatus(spec, '📥 Getting your file…', cancelButton);
      let input: Buffer;
      try {
        input = await downloadFile(spec.media, {
          api,
          apiRoot: this.deps.apiRoot,
          token: this.deps.token,
          maxBytes: limits.downloadBytes,
          signal: controller.signal,
        });
      } catch (err) {
        this.deps.rateLimiter.refund(rateKey, rate.at);
        throw err;
      }
      if (controller.signal.aborted) throw new AnimefyError('CANCELLED');
      const kind = detectMediaKind(input) ?? declaredKind(spec.media);

      let handle: JobHandle;
      try {
        handle = await this.deps.queue.submit({
          input,
          kind,
          options: {
            style: spec.style,
            mode: spec.mode,
            upscale: spec.upscale,
            faces: spec.faces,
            quality: 'fast',
            format: requestedFormat(spec.media, kind),
            maxBytes: limits.uploadBytes,
          },
          requester: { platform: 'telegram', userId: String(spec.requester.id) },
        });
      } catch (err) {
        this.deps.rateLimiter.refund(rateKey, rate.at);
        throw err;
      }
      job.handle = handle;
      if (controller.signal.aborted) await handle.cancel();

      const shown = status;
      action = new ChatActionLoop(api, spec.chatId, chatActionFor(kind));
      const loop = action;
      const onRunning = () => {
        shown.update(STARTING_TEXT, cancelButton);
        loop.start();
      };
      if (handle.state === 'queued') shown.update(queuedText(handle.position || 1), cancelButton);
      else if (handle.state === 'running') onRunning(); // it started before these listeners were attached
      handle.on('position', (position) => shown.update(queuedText(position), cancelButton));
      handle.on('running', onRunning);
      handle.on('progress', (event) => shown.update(progressText(event), cancelButton));

      const result = await handle.result;
      action.stop();
      log.info(
        { chatId: spec.chatId, kind: result.kind, style: spec.style, mode: spec.mode, bytes: result.data.byteLength, ms: result.timings.total },
        'job done',
      );
      await this.sendResult(spec, result);
      await status.remove();
    } catch (err) {
      action?.stop();
      const text = this.failureText(err, job, spec);
      if (status) await status.finish(text);
      else await api.sendMessage(spec.chatId, text, replyTo(spec.sourceMessageId));
    }
  }

  private failureText(err: unknown, job: ActiveJob, spec: JobSpec): string {
    if (isAnimefyError(err)) {
      if (err.code === 'CANCELLED') return job.stopping ? `⚠️ ${userMessage(new AnimefyError('SHUTTING_DOWN'))}` : '✖ Cancelled.';
      if (err.code === 'DOWNLOAD_FAILED') this.deps.log.warn({ cause: String(err.cause), chatId: spec.chatId }, 'download failed');
      return `⚠️ ${err.message}`;
    }
    this.deps.log.error({ err: describeApiError(err), chatId: spec.chatId }, 'job failed');
    return `⚠️ ${userMessage(err)}`;
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
    const canUpscale = result.kind === 'image' && spec.upscale === 1 && result.width * result.height * 4 <= limits.maxOutputPixels;
    const reply_markup = resultKeyboard({ token, requesterId: spec.requester.id, canUpscale, otherFaces: offerFaceSwitch(spec.faces, result) });
    const caption = resultCaption({ style: spec.style, mode: spec.mode, upscale: spec.upscale, faces: spec.faces, notes: result.notes });
    const file = () => new InputFile(result.data, `animefy-${spec.style}${EXTENSIONS[result.format] ?? ''}`);
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

const EXTENSIONS: Record<string, string> = { png: '.png', jpeg: '.jpg', webp: '.webp', gif: '.gif', mp4: '.mp4', webm: '.webm' };

export function replyTo(messageId: number) {
  return { reply_parameters: { message_id: messageId, allow_sending_without_reply: true } };
}
