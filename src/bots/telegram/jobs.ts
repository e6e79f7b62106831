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
import { isStickerOperation, type FaceLook, type Mode, type Operation, type UpscaleFactor } from '../../pipeline/modes.ts';
import type { PersonChoice } from '../../pipeline/person-choice.ts';
import type { JobOptions, JobQueue, JobResult, MediaKind } from '../../queue/types.ts';
import type { ActiveJob } from '../active-jobs.ts';
import { canUpscale, PlatformJobs, resultFileName, warningText, type Admission, type JobExtras } from '../job-flow.ts';
import type { RateLimiter } from '../rate-limit.ts';
import type { ReferenceStore } from '../references.ts';
import { downloadFile } from './download.ts';
import { cancelKeyboard, personKeyboard, resultKeyboard, stickerKeyboard } from './keyboards.ts';
import { chatActionFor, declaredKind, replyMethod, requestedFormat, type MediaRef, type ReplyMethod } from './media.ts';
import { markedFaces, offerFaceSwitch, resultCaption } from '../result-caption.ts';
import { ChatActionLoop, ChatPacer, StatusMessage } from './status-message.ts';
import { describeApiError, isBlockedError } from './api-error.ts';

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
  /** A style keyboard asked once for an album: the album's other items, in order. */
  album?: JobItem[];
  /** The forum topic the media was sent in. */
  threadId?: number;
  /** What the job does (default animefy); on a people picker, what a pick runs. */
  operation?: Operation;
  /** Person mode and erase: who (as numbered in the people preview). */
  person?: PersonChoice;
  /** Sticker, emoji, smile: their choices. */
  extras?: JobExtras;
}


/** One input of a job: its media and the message holding it. */
export interface JobItem {
  media: MediaRef;
  sourceMessageId: number;
  /** The forum topic it was sent in. */
  threadId?: number;
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
  /** A forum topic's thread (the chat action must name it; replies find it by themselves). */
  threadId?: number;
  /** What the job does (default animefy); `people` makes the numbered picker first. */
  operation?: Operation;
  /** Person mode and erase: who. */
  person?: PersonChoice;
  /** For a `people` job: what a pick runs next (`animefy` in person mode, or `erase`). */
  pickFor?: Exclude<Operation, 'people'>;
  /** Sticker, emoji, smile: their choices. */
  extras?: JobExtras;
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
    super({ platform: 'telegram', queue: deps.queue, rateLimiter: deps.rateLimiter, log: deps.log, describeError: describeApiError, isUnreachable: isBlockedError });
  }

  /** Starts a job in the background; every outcome reaches the chat. */
  start(spec: JobSpec): void {
    this.startAlbum([spec]);
  }

  /**
   * Starts the items of an album (or one item) as one job: one place in the rate limit, the items
   * run one after another (so the per-user queue limit never refuses item 3), and their results
   * arrive in the album's order. ✖ Cancel stops the item running and the ones after it.
   */
  startAlbum(specs: readonly JobSpec[]): void {
    const first = specs[0];
    if (!first) return;
    this.flow.start(
      String(first.requester.id),
      async (job, token) => {
        let admission: Admission;
        try {
          admission = await this.flow.admit(String(first.requester.id));
        } catch (err) {
          await this.deps.api.sendMessage(first.chatId, warningText(err), replyTo(first.sourceMessageId));
          return;
        }
        for (const [i, spec] of specs.entries()) {
          if (job.controller.signal.aborted) break;
          // Only the first item's failure before the queue gives the place back: the album took one.
          await this.run(token, job, spec, i === 0 ? admission : { refund: () => undefined });
        }
      },
      { chatId: first.chatId, items: specs.length },
    );
  }

  /** Telegram's side of the job flow: a status message that follows the job, and the chat action. */
  private async run(token: string, job: ActiveJob, spec: JobSpec, admission: Admission): Promise<void> {
    const { api, limits } = this.deps;
    let status: StatusMessage;
    const cancelButton = cancelKeyboard(token);
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
          ...(spec.operation ? { operation: spec.operation } : {}),
          ...(spec.person ? { person: spec.person } : {}),
          ...spec.extras,
          format: resultFormat(spec, sniffed),
          maxBytes: limits.uploadBytes,
        };
      },
      surface: {
        status: (text) => status.update(text, cancelButton),
        running: () => {
          action ??= new ChatActionLoop(api, spec.chatId, chatActionFor(kind, spec.operation), spec.threadId);
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

  /**
   * A finished result is not lost to flood control: auto-retry gives up on waits over a minute, so a
   * 429 that reaches here is waited out (its retry_after, however long, up to 10 minutes) and the
   * upload tried again, a few times.
   */
  private async waitOutFloodControl(send: () => Promise<void>, chatId: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send();
      } catch (err) {
        if (!(err instanceof GrammyError && err.error_code === 429) || attempt > RESULT_FLOOD_RETRIES) throw err;
        const waitS = Math.min(err.parameters.retry_after ?? 5, MAX_FLOOD_WAIT_S);
        this.deps.log.warn({ chatId, waitS, attempt }, 'flood control on a result: waiting, then sending again');
        await new Promise((resolve) => setTimeout(resolve, waitS * 1000));
      }
    }
  }

  /**
   * The numbered people preview. With one person the job it was for runs at once; with several,
   * the preview goes up with a button per person (and "All" in person mode), for the requester.
   */
  private async sendPicker(spec: JobSpec, result: JobResult): Promise<void> {
    const people = result.people ?? [];
    const next = spec.pickFor ?? 'animefy';
    const { media, chatId, sourceMessageId, threadId, style, mode, upscale, faces } = spec;
    if (people.length <= 1) {
      this.start({ ...spec, operation: next, person: 'largest', pickFor: undefined, statusMessageId: undefined });
      return;
    }
    const token = await this.deps.refs.put({
      ...{ media, chatId, sourceMessageId, threadId, style, mode, upscale, faces },
      requesterId: spec.requester.id,
      onlyRequester: true,
      operation: next,
    });
    const question = next === 'erase' ? 'Who should I erase?' : 'Who should become anime?';
    await this.waitOutFloodControl(async () => {
      await this.deps.api.sendPhoto(chatId, new InputFile(result.data, 'people.jpg'), {
        ...replyTo(sourceMessageId),
        caption: `👥 ${people.length} people, numbered left to right. ${question}`,
        reply_markup: personKeyboard(token, people.length, next !== 'erase'),
      });
    }, chatId);
  }

  /** The reference a result's buttons carry: its job, to run again (anyone may press them). */
  private resultReference(spec: JobSpec, extra: Pick<JobReference, 'person'>): Promise<string> {
    const { media, chatId, sourceMessageId, threadId, style, mode, upscale, faces, operation, extras } = spec;
    return this.deps.refs.put({ media, chatId, sourceMessageId, threadId, style, mode, upscale, faces, operation, extras, requesterId: spec.requester.id, onlyRequester: false, ...extra });
  }

  /**
   * A sticker or an animated emoji: sent with sendSticker (stickers take no caption; a note goes as
   * a short message after it), with ✨ Animate it / 🔁 Another effect and ➕ Add to my pack.
   */
  private async sendSticker(spec: JobSpec, result: JobResult): Promise<void> {
    const { api } = this.deps;
    const token = await this.resultReference(spec, {});
    const reply_markup = stickerKeyboard({ token, requesterId: spec.requester.id, animated: spec.operation === 'emoji' });
    const name = spec.operation === 'emoji' ? 'emoji.webm' : 'sticker.webp';
    await this.waitOutFloodControl(async () => {
      await api.sendSticker(spec.chatId, new InputFile(result.data, name), { ...replyTo(spec.sourceMessageId), reply_markup });
    }, spec.chatId);
    if (result.notes.length > 0) await api.sendMessage(spec.chatId, result.notes.map((n) => `ℹ️ ${n}`).join('\n'), replyTo(spec.sourceMessageId));
  }

  private async sendResult(spec: JobSpec, result: JobResult): Promise<void> {
    if (spec.operation === 'people') return this.sendPicker(spec, result);
    if (isStickerOperation(spec.operation)) return this.sendSticker(spec, result);
    const { api, limits } = this.deps;
    // "Another style" on person 2 keeps person 2.
    const token = await this.resultReference(spec, { person: result.chosen?.length ? result.chosen : spec.person });
    // Erase, smile and landmarks have no style to change, and their own look of faces.
    const styled = spec.operation === undefined || spec.operation === 'animefy';
    const reply_markup = resultKeyboard({
      token,
      requesterId: spec.requester.id,
      canUpscale: styled && canUpscale(result, spec.upscale, limits.maxOutputPixels),
      otherFaces: styled ? offerFaceSwitch(spec.faces, result) : undefined,
      restyle: styled,
    });
    const caption = resultCaption({
      style: spec.style,
      mode: spec.mode,
      upscale: spec.upscale,
      faces: spec.faces,
      notes: result.notes,
      operation: spec.operation,
      chosen: result.chosen,
      smile: spec.extras?.smile,
      marked: markedFaces(result),
    });
    const file = () => new InputFile(result.data, resultFileName(spec.operation === 'smile' || spec.operation === 'landmarks' ? spec.operation : spec.style, result.format));
    const common = { ...replyTo(spec.sourceMessageId), reply_markup };
    const size = { width: result.width, height: result.height };
    const duration = result.media ? Math.max(1, Math.round(result.media.duration)) : undefined;

    // A spoilered input comes back under a spoiler (documents and stickers have none).
    const spoiler = spec.media.spoiler ? { has_spoiler: true } : {};
    const send = async (how: ReplyMethod): Promise<void> => {
      switch (how) {
        case 'photo':
          await api.sendPhoto(spec.chatId, file(), { ...common, caption, ...spoiler });
          return;
        case 'sticker':
          await api.sendSticker(spec.chatId, file(), common);
          return;
        case 'animation':
          await api.sendAnimation(spec.chatId, file(), { ...common, caption, ...size, duration, ...spoiler });
          return;
        case 'video':
          await api.sendVideo(spec.chatId, file(), { ...common, caption, ...size, duration, supports_streaming: true, ...spoiler });
          return;
        case 'document':
          await api.sendDocument(spec.chatId, file(), { ...common, caption });
          return;
      }
    };

    const method = replyMethod(spec.media, result, spec.upscale);
    try {
      await this.waitOutFloodControl(() => send(method), spec.chatId);
    } catch (err) {
      // Telegram refuses some pictures as photos or stickers (odd sizes): a document always works.
      if (method !== 'document' && err instanceof GrammyError && err.error_code === 400) {
        this.deps.log.warn({ err: describeApiError(err), method }, 'sending as a document instead');
        await this.waitOutFloodControl(() => send('document'), spec.chatId);
        return;
      }
      if (err instanceof GrammyError && err.error_code === 413) throw new AnimefyError('RESULT_TOO_LARGE', { limit: `${Math.round(limits.uploadBytes / 2 ** 20)} MB` });
      throw err;
    }
  }
}

/** Tries after a 429 on a finished result, each after the wait Telegram asks for. */
const RESULT_FLOOD_RETRIES = 3;
/** The longest single wait honoured (Telegram asks for up to a few minutes in busy groups). */
const MAX_FLOOD_WAIT_S = 600;

/** What a job asks the pipeline for: the picker a JPEG, a sticker a WebP, an emoji a video sticker. */
function resultFormat(spec: JobSpec, sniffed: MediaKind): JobOptions['format'] {
  if (spec.operation === 'people') return 'jpeg';
  if (spec.operation === 'sticker') return 'webp';
  if (spec.operation === 'emoji') return 'webm';
  return requestedFormat(spec.media, sniffed);
}

export function replyTo(messageId: number) {
  return { reply_parameters: { message_id: messageId, allow_sending_without_reply: true } };
}
