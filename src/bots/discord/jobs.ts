/**
 * One Discord job from start to finish. Checks that need nothing fetched (bot stopping, rate limit,
 * the size Discord states) answer at once with an ephemeral message. Everything else is acknowledged
 * with a deferred reply first (well within Discord's 3 s, whatever the queue looks like), then the
 * file is fetched, submitted with the interaction's upload limit, and the reply follows the queue
 * (position, stage and percent) until the result replaces it, with its buttons.
 */
import { DiscordAPIError, MessageFlags, RESTJSONErrorCodes, type RepliableInteraction } from 'discord.js';
import type { Logger } from 'pino';
import { AnimefyError, isAnimefyError, userMessage } from '../../errors.ts';
import { detectMediaKind } from '../../pipeline/media/sniff.ts';
import type { FaceLook, Mode, UpscaleFactor } from '../../pipeline/modes.ts';
import type { JobHandle, JobQueue, JobResult } from '../../queue/types.ts';
import { ActiveJobs, type ActiveJob, type CancelOutcome } from '../active-jobs.ts';
import { downloadTooLarge, fetchMedia } from '../fetch-media.ts';
import { progressText, queuedText, STARTING_TEXT } from '../progress-text.ts';
import { formatWait, type RateLimiter } from '../rate-limit.ts';
import type { ReferenceStore } from '../references.ts';
import { offerFaceSwitch, resultCaption } from '../result-caption.ts';
import { cancelButton, resultButtons } from './components.ts';
import { declaredKind, isAllowedMediaUrl, type MediaSource } from './media.ts';
import { describeDiscordError, JobReply } from './reply.ts';

export interface DiscordLimits {
  /** Largest input fetched. */
  inputBytes: number;
  /** Largest result in pixels (decides whether "Upscale" is offered). */
  maxOutputPixels: number;
  /** Longest GIF or video accepted, in seconds (for /about). */
  maxClipSeconds: number;
  /** Embed images are fetched only from these hosts. */
  mediaHosts: readonly string[];
}

/** Discord's smallest upload limit, used when an interaction does not state its own. */
export const DEFAULT_UPLOAD_BYTES = 10 * 1024 * 1024;
/** Left free under the upload limit for the rest of the request. */
const UPLOAD_MARGIN_BYTES = 64 * 1024;

/** What a button remembers about a job: enough to run it again, never the media. */
export interface JobReference {
  media: MediaSource;
  requesterId: string;
  style: string;
  mode: Mode;
  upscale: UpscaleFactor;
  faces: FaceLook;
  private: boolean;
}

export interface JobSpec {
  media: MediaSource;
  style: string;
  mode: Mode;
  upscale: UpscaleFactor;
  faces: FaceLook;
  private: boolean;
}

export interface DiscordJobsDeps {
  queue: JobQueue;
  limits: DiscordLimits;
  rateLimiter: RateLimiter;
  refs: ReferenceStore<JobReference>;
  log: Logger;
  /** Minimum time between progress edits of one reply. */
  editIntervalMs: number;
  /** Interaction token lifetime (tests shorten it). */
  tokenTtlMs?: number;
}

/** The upload limit for this interaction's replies, less a margin for the rest of the request. */
export function uploadLimit(interaction: { attachmentSizeLimit?: number | null }): number {
  const stated = interaction.attachmentSizeLimit;
  const limit = typeof stated === 'number' && stated > 0 ? stated : DEFAULT_UPLOAD_BYTES;
  return Math.max(64 * 1024, limit - UPLOAD_MARGIN_BYTES);
}

export class DiscordJobs {
  private readonly active = new ActiveJobs();

  constructor(private readonly deps: DiscordJobsDeps) {}

  get running(): number {
    return this.active.size;
  }

  /**
   * Answers the interaction (an ephemeral refusal, or a deferred reply) before returning, then runs
   * the job in the background; every outcome reaches the user.
   */
  async start(interaction: RepliableInteraction, spec: JobSpec): Promise<void> {
    const { log, limits } = this.deps;
    const rateKey = `discord:${interaction.user.id}`;
    const refuse = (err: AnimefyError) => interaction.reply({ content: `⚠️ ${err.message}`, flags: MessageFlags.Ephemeral });
    if (this.active.closing) return void (await refuse(new AnimefyError('SHUTTING_DOWN')));
    if (spec.media.size !== undefined && spec.media.size > limits.inputBytes) {
      return void (await refuse(downloadTooLarge(spec.media.size, limits.inputBytes)));
    }
    const rate = this.deps.rateLimiter.take(rateKey);
    if (!rate.ok) return void (await refuse(new AnimefyError('RATE_LIMITED', { wait: formatWait(rate.retryAfterMs) })));

    try {
      await interaction.deferReply(spec.private ? { flags: MessageFlags.Ephemeral } : {});
    } catch (err) {
      this.deps.rateLimiter.refund(rateKey, rate.at);
      log.warn({ err: describeDiscordError(err), interaction: interaction.id }, 'could not acknowledge the interaction');
      return;
    }

    const reply = new JobReply(interaction, { private: spec.private, intervalMs: this.deps.editIntervalMs, log, tokenTtlMs: this.deps.tokenTtlMs });
    this.active.start(interaction.user.id, (job, token) =>
      this.run(token, job, interaction, reply, spec, () => this.deps.rateLimiter.refund(rateKey, rate.at)).catch((err) =>
        log.error({ err: describeDiscordError(err), interaction: interaction.id }, 'job reply failed'),
      ),
    );
  }

  /** The ✖ Cancel button: only the requester may. */
  cancel(token: string, userId: string): Promise<CancelOutcome> {
    return this.active.cancel(token, userId);
  }

  /** Stops taking jobs, lets running ones finish for up to `graceMs`, then cancels the rest (with a message). */
  shutdown(graceMs: number): Promise<void> {
    return this.active.shutdown(graceMs, (jobs) => this.deps.log.info({ jobs, graceMs }, 'waiting for running jobs'));
  }

  private async run(token: string, job: ActiveJob, interaction: RepliableInteraction, reply: JobReply, spec: JobSpec, refund: () => void): Promise<void> {
    const { limits, log } = this.deps;
    const cancelRow = [cancelButton(token, interaction.user.id)];
    const maxBytes = uploadLimit(interaction);
    try {
      let input: Buffer;
      try {
        if (!spec.media.trusted && !isAllowedMediaUrl(spec.media.url, limits.mediaHosts)) throw new AnimefyError('MEDIA_HOST_NOT_ALLOWED');
        input = await fetchMedia(spec.media.url, { maxBytes: limits.inputBytes, signal: job.controller.signal });
      } catch (err) {
        refund();
        throw err;
      }
      if (job.controller.signal.aborted) throw new AnimefyError('CANCELLED');
      const kind = detectMediaKind(input) ?? declaredKind(spec.media);

      let handle: JobHandle;
      try {
        handle = await this.deps.queue.submit({
          input,
          kind,
          options: { style: spec.style, mode: spec.mode, upscale: spec.upscale, faces: spec.faces, quality: 'fast', maxBytes },
          requester: { platform: 'discord', userId: interaction.user.id },
        });
      } catch (err) {
        refund();
        throw err;
      }
      job.handle = handle;
      if (job.controller.signal.aborted) await handle.cancel();

      if (handle.state === 'queued') reply.update(queuedText(handle.position || 1), cancelRow);
      else if (handle.state === 'running') reply.update(STARTING_TEXT, cancelRow);
      handle.on('position', (position) => reply.update(queuedText(position), cancelRow));
      handle.on('running', () => reply.update(STARTING_TEXT, cancelRow));
      handle.on('progress', (event) => reply.update(progressText(event), cancelRow));

      const result = await handle.result;
      const delivery = await reply.result(this.resultPayload(interaction.user.id, spec, result, maxBytes));
      log.info(
        { interaction: interaction.id, kind: result.kind, style: spec.style, mode: spec.mode, bytes: result.data.byteLength, ms: result.timings.total, delivery },
        'job done',
      );
    } catch (err) {
      if (isAnimefyError(err) && err.code === 'CANCELLED' && !job.stopping) {
        await reply.finish('✖ Cancelled.');
        return;
      }
      await reply.fail(this.failureText(err, job, interaction.id));
    }
  }

  private resultPayload(requesterId: string, spec: JobSpec, result: JobResult, maxBytes: number) {
    const { refs, limits } = this.deps;
    if (result.data.byteLength > maxBytes) throw new AnimefyError('RESULT_TOO_LARGE', { limit: `${Math.round(maxBytes / 2 ** 20)} MB` });
    const ref = refs.put({
      media: spec.media,
      requesterId,
      style: spec.style,
      mode: spec.mode,
      upscale: spec.upscale,
      faces: spec.faces,
      private: spec.private,
    });
    const canUpscale = result.kind === 'image' && spec.upscale === 1 && result.width * result.height * 4 <= limits.maxOutputPixels;
    const data = Buffer.from(result.data.buffer, result.data.byteOffset, result.data.byteLength);
    return {
      content: resultCaption({ style: spec.style, mode: spec.mode, upscale: spec.upscale, faces: spec.faces, notes: result.notes }, 2000),
      file: { name: `animefy-${spec.style}${EXTENSIONS[result.format] ?? ''}`, data },
      components: [resultButtons({ ref, requesterId, canUpscale, otherFaces: offerFaceSwitch(spec.faces, result) })],
    };
  }

  private failureText(err: unknown, job: ActiveJob, interactionId: string): string {
    if (isAnimefyError(err)) {
      if (err.code === 'CANCELLED') return `⚠️ ${userMessage(new AnimefyError('SHUTTING_DOWN'))}`;
      if (err.code === 'DOWNLOAD_FAILED') this.deps.log.warn({ cause: String(err.cause), interaction: interactionId }, 'download failed');
      return `⚠️ ${err.message}`;
    }
    if (err instanceof DiscordAPIError && err.code === RESTJSONErrorCodes.RequestEntityTooLarge) {
      return `⚠️ ${new AnimefyError('RESULT_TOO_LARGE', { limit: 'the upload limit' }).message}`;
    }
    this.deps.log.error({ err: describeDiscordError(err), interaction: interactionId, stopping: job.stopping }, 'job failed');
    return `⚠️ ${userMessage(err)}`;
  }
}

const EXTENSIONS: Record<string, string> = { png: '.png', jpeg: '.jpg', webp: '.webp', gif: '.gif', mp4: '.mp4', webm: '.webm' };
