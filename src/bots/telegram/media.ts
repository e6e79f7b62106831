/**
 * Which file in a Telegram message the bot works on, what it is, and how the result goes back.
 * Only references travel (file_id), never the media: the bot downloads right before a job.
 */
import type { Message } from 'grammy/types';
import { AnimefyError } from '../../errors.ts';
import { isStickerOperation, type Operation } from '../../pipeline/modes.ts';
import type { JobOptions, JobResult, MediaKind } from '../../queue/types.ts';

export type TelegramMediaType = 'photo' | 'document' | 'animation' | 'video' | 'video_note' | 'sticker';

export interface MediaRef {
  type: TelegramMediaType;
  fileId: string;
  fileUniqueId: string;
  /** As Telegram reports it (may be missing). */
  fileSize?: number;
  mimeType?: string;
  fileName?: string;
  /** Stickers: a video sticker (WebM) rather than a static WebP one. */
  videoSticker?: boolean;
  /** Sent under a spoiler: the result goes back under one too. */
  spoiler?: boolean;
}

export type MediaLookup = { media: MediaRef } | { refusal: AnimefyError };

/** Document types that can never be media: refused without downloading anything. */
const NON_MEDIA_MIME = /^(text\/|audio\/|application\/(pdf|zip|x-|msword|vnd\.|json|xml|gzip|x-tgsticker))/;

/** The media of a message, a reason it cannot be used, or undefined when it has none at all. */
export function findMedia(message: Message | undefined): MediaLookup | undefined {
  const found = findMediaIn(message);
  if (found && 'media' in found && message && 'has_spoiler' in message && message.has_spoiler === true) found.media.spoiler = true;
  return found;
}

function findMediaIn(message: Message | undefined): MediaLookup | undefined {
  if (!message) return undefined;
  if (message.photo?.length) {
    // Sizes come smallest first; the last is the original resolution Telegram kept.
    const best = message.photo[message.photo.length - 1];
    return { media: { type: 'photo', fileId: best.file_id, fileUniqueId: best.file_unique_id, fileSize: best.file_size, mimeType: 'image/jpeg' } };
  }
  if (message.animation) {
    const a = message.animation;
    return { media: { type: 'animation', fileId: a.file_id, fileUniqueId: a.file_unique_id, fileSize: a.file_size, mimeType: a.mime_type, fileName: a.file_name } };
  }
  if (message.video) {
    const v = message.video;
    return { media: { type: 'video', fileId: v.file_id, fileUniqueId: v.file_unique_id, fileSize: v.file_size, mimeType: v.mime_type, fileName: v.file_name } };
  }
  if (message.video_note) {
    const v = message.video_note;
    return { media: { type: 'video_note', fileId: v.file_id, fileUniqueId: v.file_unique_id, fileSize: v.file_size, mimeType: 'video/mp4' } };
  }
  if (message.sticker) {
    const s = message.sticker;
    if (s.is_animated) return { refusal: new AnimefyError('ANIMATED_STICKER') };
    return {
      media: {
        type: 'sticker',
        fileId: s.file_id,
        fileUniqueId: s.file_unique_id,
        fileSize: s.file_size,
        mimeType: s.is_video ? 'video/webm' : 'image/webp',
        videoSticker: s.is_video,
      },
    };
  }
  if (message.document) {
    const d = message.document;
    const mime = (d.mime_type ?? '').toLowerCase();
    if (NON_MEDIA_MIME.test(mime)) return { refusal: new AnimefyError('UNSUPPORTED_MEDIA', { kind: describeFileKind(d.file_name, mime) }) };
    return { media: { type: 'document', fileId: d.file_id, fileUniqueId: d.file_unique_id, fileSize: d.file_size, mimeType: mime || undefined, fileName: d.file_name } };
  }
  if (message.audio || message.voice) return { refusal: new AnimefyError('UNSUPPORTED_MEDIA', { kind: 'audio' }) };
  return undefined;
}

function describeFileKind(fileName: string | undefined, mime: string): string {
  const ext = fileName?.match(/\.([A-Za-z0-9]{1,8})$/)?.[1];
  if (ext) return `.${ext.toLowerCase()}`;
  if (mime.startsWith('audio/')) return 'audio';
  if (mime.startsWith('text/')) return 'text';
  return mime || 'those';
}

/** The kind the message says it is (the worker sniffs the bytes and has the last word). */
export function declaredKind(media: MediaRef): MediaKind {
  const mime = media.mimeType ?? '';
  if (mime === 'image/gif') return 'gif';
  if (media.type === 'photo') return 'image';
  if (media.type === 'sticker') return media.videoSticker ? 'video' : 'image';
  if (media.type === 'document') return mime.startsWith('video/') ? 'video' : 'image';
  return 'video';
}

/** True for what Telegram shows as a looping, silent animation (it turns GIFs into MP4 animations). */
function isAnimationLike(media: MediaRef, kind: MediaKind): boolean {
  return media.type === 'animation' || kind === 'gif' || (media.type === 'sticker' && media.videoSticker === true);
}

/**
 * Output format to ask the worker for: animations come back as MP4 (what Telegram plays inline),
 * static stickers as WebP so they can be sent back as a sticker; everything else keeps the default.
 */
export function requestedFormat(media: MediaRef, kind: MediaKind): JobOptions['format'] {
  if (kind !== 'image') return 'mp4';
  if (media.type === 'sticker' && !media.videoSticker) return 'webp';
  return undefined;
}

export type ReplyMethod = 'photo' | 'document' | 'animation' | 'video' | 'sticker';

/** Telegram's limits for sendPhoto: 10 MB, width + height ≤ 10000, aspect ratio ≤ 20. */
export const PHOTO_MAX_BYTES = 10 * 1024 * 1024;
/** sendPhoto recompresses pictures to at most this many pixels on the long side. */
export const PHOTO_MAX_SIDE = 2560;

/**
 * How a result goes back. Upscaled pictures and any wider or taller than 2560 px go as documents:
 * as photos Telegram would shrink them back to 2560 px and recompress them, undoing the point.
 */
export function replyMethod(media: MediaRef, result: Pick<JobResult, 'kind' | 'format' | 'width' | 'height' | 'data'>, upscale = 1): ReplyMethod {
  if (result.kind !== 'image') {
    if (result.format === 'webm') return 'document';
    return isAnimationLike(media, result.kind) ? 'animation' : 'video';
  }
  const { width, height } = result;
  if (media.type === 'sticker' && result.format === 'webp') {
    // An upscaled sticker is too big to be one; as a photo it would lose its transparency.
    return Math.max(width, height) <= 512 ? 'sticker' : 'document';
  }
  // People who send a file (not a compressed photo) want a file back, at full quality.
  if (media.type === 'document' || upscale > 1 || Math.max(width, height) > PHOTO_MAX_SIDE) return 'document';
  const photoOk =
    result.data.byteLength <= PHOTO_MAX_BYTES && width + height <= 10_000 && Math.max(width, height) / Math.max(1, Math.min(width, height)) <= 20;
  return photoOk ? 'photo' : 'document';
}

/** The chat action that matches what is being made: "choosing a sticker…" for stickers and emoji. */
export function chatActionFor(kind: MediaKind, operation?: Operation): ChatAction {
  if (isStickerOperation(operation)) return 'choose_sticker';
  return kind === 'image' ? 'upload_photo' : 'upload_video';
}

export type ChatAction = 'upload_photo' | 'upload_video' | 'choose_sticker' | 'typing';
