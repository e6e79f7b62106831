/**
 * One job flow for both bots: running-job registry → rate limit → download (refunded on failure) →
 * sniff → submit (refunded on failure) → status while queued and running → deliver → the failure
 * text. A platform supplies only what differs: how to download (`download`), and where the user sees
 * the job (`JobSurface`: a Telegram status message, a Discord deferred reply).
 *
 * Also the pieces both bots' job code shares: the result's file name, the upscale rule, how long a
 * button remembers its job, and the requester-only check for buttons.
 */
import type { Logger } from 'pino';
import { AnimefyError, isAnimefyError, userMessage } from '../errors.ts';
import { DEFAULT_EMOJI_EFFECT, EMOJI_EFFECT_IDS, type EmojiEffect } from '../pipeline/emoji-effects.ts';
import { detectMediaKind, type MediaKind } from '../pipeline/media/sniff.ts';
import type { FaceLook, Mode, UpscaleFactor } from '../pipeline/modes.ts';
import type { JobHandle, JobOptions, JobQueue, JobResult } from '../queue/types.ts';
import { ActiveJobs, type ActiveJob, type CancelOutcome } from './active-jobs.ts';
import { progressText, queuedText, STARTING_TEXT } from './progress-text.ts';
import { formatWait, type RateLimiter } from './rate-limit.ts';

/** How long "Another style", "Keep faces" and "Upscale" remember a job's media reference. */
export const REFERENCE_TTL_MS = 24 * 3600 * 1000;

/** What a user asked for, on either platform. */
export interface JobChoices {
  style: string;
  mode: Mode;
  upscale: UpscaleFactor;
  faces: FaceLook;
}

/** The choices of a sticker, an emoji or a smile, on either platform (see JobOptions). */
export type JobExtras = Pick<JobOptions, 'body' | 'effect' | 'text' | 'smile'>;

/** The effect after `current` in the list (the first after a still sticker): "Another effect". */
export function nextEffect(current: EmojiEffect | undefined): EmojiEffect {
  if (!current) return DEFAULT_EMOJI_EFFECT;
  return EMOJI_EFFECT_IDS[(EMOJI_EFFECT_IDS.indexOf(current) + 1) % EMOJI_EFFECT_IDS.length];
}

/** Where the user watches one job. Every method is called at most once except `status`. */
export interface JobSurface {
  /** Queue position, "Starting", progress: shown with a cancel control (the surface paces edits). */
  status(text: string): void;
  /** The job started on a worker (after `status(STARTING_TEXT)`). */
  running?(): void;
  /** Sends the result; throws an AnimefyError (e.g. RESULT_TOO_LARGE) when the platform refuses it. */
  deliver(result: JobResult): Promise<void>;
  /** The job ended without a result: `text` is the user-facing line (an error, or "✖ Cancelled."). */
  fail(text: string, cancelled: boolean): Promise<void>;
}

export interface JobRun {
  /** Fetches the input (size-limited, cancellable). */
  download(signal: AbortSignal): Promise<Buffer>;
  /** The kind the platform declared, used when the bytes are not recognised. */
  declaredKind: MediaKind;
  /** The queue options for this input (format and size limit may depend on its kind). */
  options(kind: MediaKind): JobOptions;
  surface: JobSurface;
  /** Context for the log lines (chat or interaction id); never tokens or media. */
  context: Record<string, unknown>;
}

/** A place in the rate limit, given back when the job fails before it reached the queue. */
export interface Admission {
  refund(): void;
}

export interface JobFlowDeps {
  platform: 'telegram' | 'discord';
  queue: JobQueue;
  rateLimiter: RateLimiter;
  log: Logger;
  /** Platform API errors described for the log (no tokens). */
  describeError(err: unknown): string;
  /** The user can't be reached any more (blocked the bot, removed it): logged at info, not as an error. */
  isUnreachable?(err: unknown): boolean;
}

export class JobFlow {
  private readonly active = new ActiveJobs();

  constructor(private readonly deps: JobFlowDeps) {}

  get running(): number {
    return this.active.size;
  }

  /**
   * Takes a place for a job of `userId`, or throws the refusal (SHUTTING_DOWN, RATE_LIMITED) for the
   * platform to show.
   */
  async admit(userId: string): Promise<Admission> {
    if (this.active.closing) throw new AnimefyError('SHUTTING_DOWN');
    const key = `${this.deps.platform}:${userId}`;
    const rate = await this.deps.rateLimiter.take(key);
    if (!rate.ok) throw new AnimefyError('RATE_LIMITED', { wait: formatWait(rate.retryAfterMs) });
    const log = this.deps.log;
    return { refund: () => void this.deps.rateLimiter.refund(key, rate.at).catch((err: unknown) => log.warn({ err: String(err) }, 'rate-limit refund failed')) };
  }

  /** Runs `work` in the background as a job of `userId` (cancellable by them, stopped on shutdown). */
  start(userId: string, work: (job: ActiveJob, token: string) => Promise<void>, context: Record<string, unknown>): void {
    this.active.start(userId, (job, token) =>
      work(job, token).catch((err: unknown) => {
        const entry = { err: this.deps.describeError(err), ...context };
        if (this.deps.isUnreachable?.(err)) this.deps.log.info(entry, 'the user blocked the bot or removed it: no reply sent');
        else this.deps.log.error(entry, 'job reply failed');
      }),
    );
  }

  /**
   * The job itself, from download to delivery. Never throws: every outcome reaches `run.surface`.
   * `admission` is refunded if the job fails before the queue took it.
   */
  async execute(job: ActiveJob, admission: Admission, run: JobRun): Promise<void> {
    const { signal } = job.controller;
    const { surface } = run;
    try {
      let input: Buffer;
      try {
        input = await run.download(signal);
      } catch (err) {
        admission.refund();
        throw err;
      }
      if (signal.aborted) throw new AnimefyError('CANCELLED');
      const kind = detectMediaKind(input) ?? run.declaredKind;
      const options = run.options(kind);

      let handle: JobHandle;
      try {
        handle = await this.deps.queue.submit({ input, kind, options, requester: { platform: this.deps.platform, userId: job.requesterId } });
      } catch (err) {
        admission.refund();
        throw err;
      }
      job.handle = handle;
      if (signal.aborted) await handle.cancel();

      const onRunning = () => {
        surface.status(STARTING_TEXT);
        surface.running?.();
      };
      if (handle.state === 'queued') surface.status(queuedText(handle.position || 1));
      else if (handle.state === 'running') onRunning(); // it started before these listeners were attached
      handle.on('position', (position) => surface.status(queuedText(position)));
      handle.on('running', onRunning);
      handle.on('progress', (event) => surface.status(progressText(event)));

      const result = await handle.result;
      await surface.deliver(result);
      this.deps.log.info(
        { ...run.context, kind: result.kind, style: options.style, mode: options.mode, bytes: result.data.byteLength, ms: result.timings.total },
        'job done',
      );
    } catch (err) {
      const cancelled = isAnimefyError(err) && err.code === 'CANCELLED' && !job.stopping;
      await surface.fail(cancelled ? '✖ Cancelled.' : this.failureText(err, job, run.context), cancelled);
    }
  }

  /** The ✖ Cancel button: only the requester may. */
  cancel(token: string, userId: string): Promise<CancelOutcome> {
    return this.active.cancel(token, userId);
  }

  ownerOf(token: string): string | undefined {
    return this.active.ownerOf(token);
  }

  /**
   * Stops taking jobs, lets running ones finish for up to `graceMs`, then cancels the rest (each
   * user is told the bot is restarting).
   */
  shutdown(graceMs: number): Promise<void> {
    return this.active.shutdown(graceMs, (jobs) => this.deps.log.info({ jobs, graceMs }, 'waiting for running jobs'));
  }

  private failureText(err: unknown, job: ActiveJob, context: Record<string, unknown>): string {
    if (isAnimefyError(err)) {
      if (err.code === 'CANCELLED') return warningText(new AnimefyError('SHUTTING_DOWN')); // stopped by a restart
      if (err.code === 'DOWNLOAD_FAILED') this.deps.log.warn({ cause: String(err.cause), ...context }, 'download failed');
      return warningText(err);
    }
    this.deps.log.error({ err: this.deps.describeError(err), ...context, stopping: job.stopping }, 'job failed');
    return warningText(err);
  }
}

/** The one way both bots show an error to a user: ⚠️ and the message from the error table. */
export function warningText(err: unknown): string {
  return `⚠️ ${userMessage(err)}`;
}

/** The result's file name: `animefy-<style>.<ext>`. */
export function resultFileName(style: string, format: string): string {
  return `animefy-${style}${EXTENSIONS[format] ?? ''}`;
}

const EXTENSIONS: Record<string, string> = { png: '.png', jpeg: '.jpg', webp: '.webp', gif: '.gif', mp4: '.mp4', webm: '.webm' };

/** "Upscale ×2" is offered for a picture not yet upscaled whose ×2 stays within the output limit. */
export function canUpscale(result: Pick<JobResult, 'kind' | 'width' | 'height'>, upscale: UpscaleFactor, maxOutputPixels: number): boolean {
  return result.kind === 'image' && upscale === 1 && result.width * result.height * 4 <= maxOutputPixels;
}

/** A button only its requester may press (Delete, Cancel, a style keyboard on their own media). */
export function requesterOnly(requesterId: string | number, pressedBy: string | number): AnimefyError | undefined {
  return String(requesterId) === String(pressedBy) ? undefined : new AnimefyError('NOT_YOUR_BUTTON');
}

/** A platform's jobs (its side of the flow), over one JobFlow: counting, cancelling and shutdown are shared. */
export abstract class PlatformJobs {
  protected readonly flow: JobFlow;

  constructor(deps: JobFlowDeps) {
    this.flow = new JobFlow(deps);
  }

  get running(): number {
    return this.flow.running;
  }

  /** The ✖ Cancel button: only the requester may. */
  cancel(token: string, userId: string | number): Promise<CancelOutcome> {
    return this.flow.cancel(token, String(userId));
  }

  /** Who asked for a running job (undefined once it has ended). */
  ownerOf(token: string): string | undefined {
    return this.flow.ownerOf(token);
  }

  /** Stops taking jobs, lets running ones finish for up to `graceMs`, then cancels the rest (each user is told). */
  shutdown(graceMs: number): Promise<void> {
    return this.flow.shutdown(graceMs);
  }
}
