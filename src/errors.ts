/**
 * One typed error for everything a user can be told about, and one table of the messages they see.
 *
 * Code throws `new AnimefyError('INPUT_TOO_LARGE', { detail })`; surfaces (CLI, bots) show
 * `userMessage(err)`. Anything that is not an AnimefyError is an internal error: it is logged with its
 * context and the user gets the INTERNAL message.
 */

export const ERROR_MESSAGES = {
  // input
  NOT_AN_IMAGE: "That file doesn't look like an image I can read. Send a JPEG, PNG, WebP or GIF.",
  CORRUPT_IMAGE: 'That image seems damaged or cut off. Try sending it again, or send another one.',
  INPUT_TOO_LARGE: 'That image is too big for me. Send one under {limit}.',
  INPUT_TOO_MANY_PIXELS: 'That image has too many pixels ({pixels} MP). Send one of at most {limit} MP.',
  INPUT_TOO_SMALL: 'That image is too small to work with. Send one at least {limit} px on each side.',
  EMPTY_INPUT: 'That file is empty.',
  NOT_A_VIDEO: "That file doesn't look like a video or GIF I can read. Send an MP4, WebM, MOV or GIF.",
  CORRUPT_VIDEO: 'That video seems damaged or cut off. Try sending it again, or send another one.',
  NO_VIDEO_STREAM: 'That file has no picture in it, only sound. Send a video or a GIF.',
  VIDEO_TOO_LONG: 'That video is too long ({seconds} s). Send one of at most {limit} s.',
  TOO_MANY_FRAMES: 'That animation has too many frames ({frames}). Send one with at most {limit}.',
  VIDEO_TOO_LARGE: 'That clip is too big to work through ({width}x{height}, {frames} frames). At that size I can take at most {limit} frames ({seconds} s): send a shorter or smaller one.',
  // content
  NO_FACE_FOUND: "I couldn't find a face in that picture. Try a photo where a face is clearly visible, or use another mode.",
  NO_PERSON_FOUND: "I couldn't find a person in that picture. Use the full mode for pictures without people.",
  PERSON_NOT_FOUND: 'There {found}, so there is no person {index}: pick {choices}.',
  ERASE_TOO_LARGE: '{who} {percent}% of the picture, and I can only erase up to {limit}%: too little background would be left to rebuild behind them. Try a photo where they are smaller.',
  FACE_NOT_FRONTAL: "That face is turned too far from the camera, or its mouth is hidden, so a smile would come out distorted. Try a photo where the face looks at the camera.",
  CAPTION_TOO_LONG: 'That caption is {length} characters long; an emoji takes at most {limit}, so it stays readable.',
  CAPTION_UNSUPPORTED: "My caption font can't draw {chars}. Use letters, numbers and common punctuation.",
  ERASE_NOT_FOR_CLIPS: 'Erasing people works on photos only, not on GIFs or videos. Send a photo, or use person mode to pick who is drawn in a clip.',
  // options
  UNKNOWN_STYLE: 'I don\'t know the style "{style}". Available styles: {styles}.',
  UNKNOWN_EFFECT: 'I don\'t know the effect "{effect}". Use one of: {effects}.',
  UNKNOWN_MODE: 'I don\'t know the mode "{mode}". Use one of: {modes}.',
  BAD_OPTION: '{detail}',
  OUTPUT_TOO_LARGE: 'That result would be too big ({pixels} MP). Try a smaller upscale.',
  RESULT_TOO_LARGE: 'The result came out too big to send here (over {limit}), even after I shrank it. Try a smaller or shorter file.',
  // models and runtime
  MODEL_MISSING: 'A model file is missing ({file}). Run `npm run models` to fetch it.',
  MODEL_CORRUPT: 'A model file is damaged ({file}). Run `npm run models` to replace it.',
  CANCELLED: 'Cancelled.',
  // queue and workers
  QUEUE_FULL: "I'm very busy right now ({queued} pictures waiting). Please try again in a few minutes.",
  USER_BUSY: 'You already have {limit} files in the queue. Wait for one to finish, then send the next.',
  JOB_TIMEOUT: 'That took too long (over {seconds} s), so I stopped it. Try a smaller or shorter file.',
  WORKER_CRASHED: 'Something went wrong while I was working on that. Please try again; if it keeps happening, try another file.',
  OUT_OF_MEMORY: 'That file needed more memory than I have. Try a smaller or shorter one.',
  MEDIA_EXPIRED: 'I lost track of that file while it waited in line. Please send it again.',
  UNSUPPORTED_MEDIA: "I can't work with {kind} files. Send a photo, a GIF or a short video.",
  QUEUE_UNAVAILABLE: "I can't reach my work queue right now. Please try again in a minute.",
  VIDEO_UNAVAILABLE: "I can't work on GIFs or videos right now (my video tools are missing). Photos still work.",
  // chat bots
  RATE_LIMITED: "You're going fast! You can start another one in {wait}.",
  DOWNLOAD_TOO_LARGE: 'That file is {size}, and I can only fetch files up to {limit} here. Send a smaller or shorter one.',
  DOWNLOAD_FAILED: "I couldn't download that file. Please send it again.",
  ANIMATED_STICKER: "I can't animefy animated (.tgs) stickers: they're drawings, not pictures. Send a photo, a GIF, a video, or a static or video sticker.",
  BUTTON_EXPIRED: 'That button has expired. Send the file again and I will start fresh.',
  NOT_YOUR_BUTTON: 'Only the person who asked for this can do that.',
  TOO_OLD_TO_DELETE: "Telegram doesn't let me delete messages older than 48 hours. You can still delete it yourself.",
  ADMINS_ONLY: "Only this group's admins can change its default style.",
  MANAGERS_ONLY: 'Only people who can manage this server can change its default style.',
  STICKER_SET_NAME_TAKEN: 'The sticker pack name {name} is already taken, so I could not make your pack. Please tell the bot owner.',
  STICKER_SET_FULL: 'Your sticker pack is full ({limit} stickers). Remove some in Telegram (@Stickers) and press the button again.',
  STICKER_REJECTED: 'Telegram turned that sticker down ({reason}). Please try another photo.',
  STICKER_NEEDS_PRIVATE_CHAT: 'Telegram only lets me make a sticker pack for someone who has started a private chat with me. Open a chat with me, press Start, then press the button again.',
  NO_MEDIA_IN_MESSAGE: "That message has no picture, GIF or video I can use.",
  MEDIA_HOST_NOT_ALLOWED: "I can only fetch pictures that are on Discord itself, not links to other sites. Upload the file instead.",
  DISCORD_FILE_GONE: 'That file is no longer available on Discord, send it again.',
  NO_PENDING_RESULT: "Nothing is waiting for you right now. A result I could neither post nor DM to you waits here for {hours} h; one I'm still making comes when it's done.",
  SHUTTING_DOWN: "I'm restarting, so I had to stop this one. Please send it again in a minute.",
  INTERNAL: 'Something went wrong on my side. Please try again in a moment.',
} as const;

export type ErrorCode = keyof typeof ERROR_MESSAGES;

export type ErrorParams = Record<string, string | number>;

export class AnimefyError extends Error {
  readonly code: ErrorCode;
  readonly params: ErrorParams;

  constructor(code: ErrorCode, params: ErrorParams = {}, options?: { cause?: unknown }) {
    super(formatMessage(code, params), options);
    this.name = 'AnimefyError';
    this.code = code;
    this.params = params;
  }

  /** A plain object that survives structured clone / JSON (worker processes, queues). */
  toJSON(): SerializedError {
    return { code: this.code, params: this.params, message: this.message };
  }

  /**
   * Rebuilds an error that crossed a process or Redis. Anything that is not a known code becomes
   * INTERNAL (the original text is kept as the cause for the logs, never shown to users).
   */
  static fromJSON(value: unknown): AnimefyError {
    const v = (value ?? {}) as Partial<SerializedError>;
    if (typeof v.code === 'string' && isErrorCode(v.code)) {
      return new AnimefyError(v.code, v.params && typeof v.params === 'object' ? v.params : {});
    }
    return new AnimefyError('INTERNAL', {}, { cause: typeof v.message === 'string' ? v.message : value });
  }
}

export interface SerializedError {
  code: ErrorCode;
  params: ErrorParams;
  message: string;
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_MESSAGES, code);
}

/**
 * Errors caused by the input or the request itself: running the same job again gives the same
 * answer, so queues never retry them.
 */
export const PERMANENT_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'NOT_AN_IMAGE',
  'CORRUPT_IMAGE',
  'INPUT_TOO_LARGE',
  'INPUT_TOO_MANY_PIXELS',
  'INPUT_TOO_SMALL',
  'EMPTY_INPUT',
  'NOT_A_VIDEO',
  'CORRUPT_VIDEO',
  'NO_VIDEO_STREAM',
  'VIDEO_TOO_LONG',
  'TOO_MANY_FRAMES',
  'VIDEO_TOO_LARGE',
  'NO_FACE_FOUND',
  'NO_PERSON_FOUND',
  'PERSON_NOT_FOUND',
  'ERASE_TOO_LARGE',
  'ERASE_NOT_FOR_CLIPS',
  'FACE_NOT_FRONTAL',
  'CAPTION_TOO_LONG',
  'CAPTION_UNSUPPORTED',
  'UNKNOWN_EFFECT',
  'UNKNOWN_STYLE',
  'UNKNOWN_MODE',
  'BAD_OPTION',
  'OUTPUT_TOO_LARGE',
  'RESULT_TOO_LARGE',
  'CANCELLED',
  'JOB_TIMEOUT',
  'OUT_OF_MEMORY',
  'MEDIA_EXPIRED',
  'UNSUPPORTED_MEDIA',
  'QUEUE_FULL',
  'USER_BUSY',
]);

export function formatMessage(code: ErrorCode, params: ErrorParams = {}): string {
  return ERROR_MESSAGES[code].replace(/\{(\w+)\}/g, (_, key: string) =>
    key in params ? String(params[key]) : `{${key}}`,
  );
}

export function isAnimefyError(err: unknown): err is AnimefyError {
  return err instanceof AnimefyError;
}

/** The short, kind message a user sees for any error. */
export function userMessage(err: unknown): string {
  return isAnimefyError(err) ? err.message : ERROR_MESSAGES.INTERNAL;
}

/** Throws CANCELLED when the signal has fired; call between stages and tiles. */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AnimefyError('CANCELLED');
}

/** The message of anything thrown, for logs and health reports (never shown to users). */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Rejects with an Error naming `what` when `work` takes longer than `ms`. The work itself is not
 * stopped: use it where an answer is needed in time (a Redis call, a health check).
 */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}
