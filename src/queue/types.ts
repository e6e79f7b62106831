/**
 * The job model shared by both queue backends. Nothing here knows about Discord or Telegram: a bot
 * turns a platform event into a `JobRequest` and a `JobHandle`'s events into replies.
 */
import type { AnimefyError } from '../errors.ts';
import type { OutputFormat } from '../pipeline/encode.ts';
import type { MediaFormat } from '../pipeline/media/frames.ts';
import type { MediaDetails } from '../pipeline/media/media-pipeline.ts';
import type { EmojiEffect } from '../pipeline/emoji-effects.ts';
import type { FaceLook, Mode, Operation, Quality, UpscaleFactor } from '../pipeline/modes.ts';
import type { PersonChoice } from '../pipeline/person-choice.ts';
import type { ProgressEvent } from '../pipeline/progress.ts';
import type { AnimefyResult } from '../pipeline/types.ts';

import type { MediaKind } from '../pipeline/media/sniff.ts';

export { MEDIA_KINDS, type MediaKind } from '../pipeline/media/sniff.ts';

/** Who asked: fairness and per-user caps count jobs by `platform:userId`. */
export interface Requester {
  platform: string;
  userId: string;
}

export interface JobOptions {
  style: string;
  mode: Mode;
  upscale: UpscaleFactor;
  quality: Quality;
  /** How faces are drawn: anime faces (default) or faces that keep their likeness. */
  faces?: FaceLook;
  /**
   * What the job does: `animefy` (default, by mode); `erase` removes the chosen people and rebuilds
   * the background (photos only: ERASE_NOT_FOR_CLIPS on a clip; style and mode are ignored);
   * `people` returns the numbered picker picture (JPEG unless `format` says otherwise; a clip's is its
   * first frame) with `result.people` listing who is in it (NO_PERSON_FOUND when nobody is);
   * `sticker` a transparent die-cut sticker (WebP, or PNG), `emoji` an animated one (WebM VP9 with
   * alpha, or GIF), both from a clip's first frame; `smile` the real picture or clip with the faces
   * smiling; `landmarks` each face's box and 68 points drawn on every frame (`result.landmarks`).
   */
  operation?: Operation;
  /**
   * Person mode and erase: who, as numbered in the `people` preview (1-based, left to right), e.g.
   * `[2]` or `[1, 3]`; or `largest` (the default) or `all`. A number past the last person fails
   * with PERSON_NOT_FOUND (its message names how many people there are). Set in another mode: BAD_OPTION.
   */
  person?: PersonChoice;
  /** Sticker and emoji: the whole person instead of the face and shoulders. */
  body?: boolean;
  /** Emoji: the animation (default `bounce`). */
  effect?: EmojiEffect;
  /** Emoji: a short caption (at most MAX_CAPTION_CHARS characters the caption font can draw). */
  text?: string;
  /** Sticker and emoji: the long side in px (16–512; default 512, a GIF emoji 128). */
  size?: number;
  /** Smile strength 0..1: for `smile` (default 0.6), or with `animefy` the faces smile before stylizing. */
  smile?: number;
  /**
   * Output format: png/jpeg/webp for pictures (default: PNG with transparency, else JPEG), gif/mp4/webm
   * for GIFs and videos (default: GIF for a GIF, MP4 for a video). A format of the other family is
   * ignored, so one request shape serves whatever the user sent.
   */
  format?: OutputFormat | MediaFormat;
  /**
   * The result must fit in this many bytes (the platform's upload limit); a result that would not is
   * re-encoded smaller, with a note. Unset: no limit.
   */
  maxBytes?: number;
}

export interface JobRequest {
  /** The media itself (bots download it before submitting). */
  input: Uint8Array;
  kind: MediaKind;
  options: JobOptions;
  requester: Requester;
  /** Higher runs sooner (default 0); fairness between users applies within a priority. */
  priority?: number;
}

/**
 * What a worker hands back: the pipeline's result (bytes, mime, size, faces, notes, stage timings)
 * and its media kind; nothing about the platform.
 */
export interface JobResult extends Omit<AnimefyResult, 'format'> {
  format: string;
  kind: MediaKind;
  /** GIF and video: frames, fps, duration, audio, flicker index. */
  media?: MediaDetails;
}

/** A job as a worker receives it (both backends). */
export interface WorkerTask {
  id: string;
  input: Uint8Array;
  kind: MediaKind;
  options: JobOptions;
}

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobEvents {
  /** Place in line, 1 = next to run. Emitted on submit and whenever it changes. */
  position: [position: number];
  /** A worker has started the job. */
  running: [];
  progress: [event: ProgressEvent];
  done: [result: JobResult];
  /** A typed, user-facing error (never CANCELLED: that is `cancelled`). */
  failed: [error: AnimefyError];
  cancelled: [];
}

export interface JobHandle {
  readonly id: string;
  readonly state: JobState;
  /** Current place in line while queued; 0 once running or finished. */
  readonly position: number;
  on<E extends keyof JobEvents>(event: E, listener: (...args: JobEvents[E]) => void): this;
  off<E extends keyof JobEvents>(event: E, listener: (...args: JobEvents[E]) => void): this;
  /** Resolves with the result; rejects with an AnimefyError (CANCELLED after `cancel()`). */
  readonly result: Promise<JobResult>;
  /** Removes a queued job or stops a running one. False when it had already finished. */
  cancel(): Promise<boolean>;
}

export interface QueueStats {
  backend: 'embedded' | 'redis';
  queued: number;
  running: number;
  /** Worker processes alive (embedded) or workers seen on the queue (redis). */
  workers: number;
}

export interface JobQueue {
  readonly backend: 'embedded' | 'redis';
  /**
   * Accepts a job quickly (no inference on this path). Rejects with QUEUE_FULL, USER_BUSY or
   * QUEUE_UNAVAILABLE; everything that goes wrong later arrives on the handle.
   */
  submit(request: JobRequest): Promise<JobHandle>;
  stats(): Promise<QueueStats>;
  /** Stops taking jobs; `cancelRunning` cancels what is queued and running, else waits for it. */
  close(options?: { cancelRunning?: boolean }): Promise<void>;
}

/** Key used for fairness and per-user caps. */
export function requesterKey(requester: Requester): string {
  return `${requester.platform}:${requester.userId}`;
}
