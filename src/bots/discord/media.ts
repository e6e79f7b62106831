/**
 * Which file the Discord bot works on, and whether it may fetch it.
 *
 * Attachments come from the interaction's resolved data (Discord's own CDN, signed URLs): they are
 * fetched as given. Any other URL (an embed image in a message, which may be a link someone posted)
 * is fetched only when its origin is on the allow-list of Discord's media hosts, so a posted link can
 * never make the bot fetch an internal address. Only references travel (URLs), never the media.
 */
import { AnimefyError } from '../../errors.ts';
import type { MediaKind } from '../../queue/types.ts';

/** What a job or a button remembers about its input. */
export interface MediaSource {
  url: string;
  name: string;
  contentType?: string;
  /** As Discord states it (attachments only). */
  size?: number;
  /** From the interaction's resolved attachments (fetched as given); else checked against the allow-list. */
  trusted: boolean;
  /** Marked as a spoiler: the result is sent as one too. */
  spoiler?: boolean;
}

/** The parts of a discord.js Attachment this module reads. */
export interface AttachmentLike {
  url: string;
  proxyURL?: string;
  name: string;
  contentType: string | null;
  size: number;
  /** discord.js's reading of the attachment's IS_SPOILER flag. */
  spoiler?: boolean;
}

/** The parts of a discord.js Embed this module reads. */
export interface EmbedLike {
  image?: { url: string; proxyURL?: string } | null;
  video?: { url?: string; proxyURL?: string } | null;
  thumbnail?: { url: string; proxyURL?: string } | null;
}

export type MediaLookup = { media: MediaSource } | { refusal: AnimefyError };

/** What the context menu looks through: a message's own files and embeds, and a forward's snapshots. */
export interface MessageLike {
  attachments: Iterable<AttachmentLike>;
  embeds: readonly EmbedLike[];
  /** A forwarded message carries its files here, not in `attachments` (discord.js `messageSnapshots`). */
  snapshots?: Iterable<{ attachments: Iterable<AttachmentLike>; embeds: readonly EmbedLike[] }>;
}

/** Discord's spoiler marks: the IS_SPOILER flag, or the `SPOILER_` file name prefix it comes from. */
export function isSpoiler(attachment: Pick<AttachmentLike, 'name' | 'spoiler'>): boolean {
  return attachment.spoiler === true || attachment.name.startsWith('SPOILER_');
}

/**
 * Whether a signed Discord CDN URL is past its `ex` (expiry, hex seconds): the CDN then refuses it, so
 * it is not worth fetching. URLs without the parameter are left to the download to find out.
 */
export function isExpiredMediaUrl(url: string, now = Date.now()): boolean {
  let params: URLSearchParams;
  try {
    params = new URL(url).searchParams;
  } catch {
    return false;
  }
  const ex = params.get('ex');
  // Only a signed URL (`hm`, the signature over `ex`) is refused past its `ex`.
  if (!ex || !params.has('hm') || !/^[0-9a-f]{1,12}$/i.test(ex)) return false;
  return Number.parseInt(ex, 16) * 1000 <= now;
}

const MEDIA_TYPE = /^(image|video)\//i;
const MEDIA_EXTENSION = /\.(jpe?g|png|webp|gif|bmp|tiff?|avif|heic|mp4|m4v|mov|webm|mkv|avi)$/i;
/** Kinds named in the refusal ("I can't work with PDF files"). */
const KIND_NAMES: [RegExp, string][] = [
  [/pdf/i, 'PDF'],
  [/^audio\//i, 'audio'],
  [/^text\//i, 'text'],
  [/zip|compressed|tar|rar|7z/i, 'archive'],
];

/** Whether an attachment looks like a picture, GIF or video (content type, else the file name). */
export function isMediaAttachment(attachment: Pick<AttachmentLike, 'name' | 'contentType'>): boolean {
  if (attachment.contentType) return MEDIA_TYPE.test(attachment.contentType);
  return MEDIA_EXTENSION.test(attachment.name);
}

/** The refusal for an attachment that is not media: its kind in words. */
export function notMediaError(attachment: Pick<AttachmentLike, 'name' | 'contentType'>): AnimefyError {
  const type = attachment.contentType ?? '';
  const named = KIND_NAMES.find(([pattern]) => pattern.test(type))?.[1];
  const extension = /\.([A-Za-z0-9]{1,8})$/.exec(attachment.name)?.[1]?.toUpperCase();
  return new AnimefyError('UNSUPPORTED_MEDIA', { kind: named ?? extension ?? 'these' });
}

export function fromAttachment(attachment: AttachmentLike): MediaLookup {
  if (!isMediaAttachment(attachment)) return { refusal: notMediaError(attachment) };
  return {
    media: {
      url: attachment.url,
      name: attachment.name,
      contentType: attachment.contentType ?? undefined,
      size: attachment.size,
      trusted: true,
      spoiler: isSpoiler(attachment),
    },
  };
}

/**
 * A message's media for the context-menu command: the first picture/GIF/video attachment, else the
 * first embed image, video or thumbnail on an allowed host (Discord's proxy copy preferred). A
 * forwarded message is empty itself: its snapshots are searched the same way.
 */
export function findMessageMedia(message: MessageLike, allowedHosts: readonly string[]): MediaLookup {
  const parts = [message, ...(message.snapshots ?? [])];
  let firstRefusal: AnimefyError | undefined;
  for (const attachment of parts.flatMap((p) => [...p.attachments])) {
    const found = fromAttachment(attachment);
    if ('media' in found) return found;
    firstRefusal ??= found.refusal;
  }
  let sawLink = false;
  for (const embed of parts.flatMap((p) => p.embeds)) {
    for (const part of [embed.image, embed.video, embed.thumbnail]) {
      for (const url of [part?.proxyURL, part?.url]) {
        if (!url) continue;
        sawLink = true;
        if (!isAllowedMediaUrl(url, allowedHosts)) continue;
        return { media: { url, name: fileNameOf(url), trusted: false } };
      }
    }
  }
  if (firstRefusal) return { refusal: firstRefusal };
  return { refusal: new AnimefyError(sawLink ? 'MEDIA_HOST_NOT_ALLOWED' : 'NO_MEDIA_IN_MESSAGE') };
}

/**
 * Whether `url` is on the allow-list. Entries: a host name (https only, default port), `*.domain`
 * (any sub-domain, https only), or an origin (`http://127.0.0.1:8080`: that scheme, host and port).
 * URLs with credentials are refused.
 */
export function isAllowedMediaUrl(url: string, allowedHosts: readonly string[]): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username || parsed.password) return false;
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return false;
  const host = parsed.hostname.toLowerCase();
  return allowedHosts.some((entry) => {
    const e = entry.toLowerCase();
    if (e.startsWith('http://') || e.startsWith('https://')) return new URL(e).origin === parsed.origin;
    if (parsed.protocol !== 'https:' || parsed.port !== '') return false;
    if (e.startsWith('*.')) return host.endsWith(e.slice(1)) && host.length > e.length - 1;
    return host === e;
  });
}

function fileNameOf(url: string): string {
  try {
    const last = new URL(url).pathname.split('/').filter(Boolean).pop();
    return last ? decodeURIComponent(last).slice(0, 100) : 'media';
  } catch {
    return 'media';
  }
}

/** The kind when the bytes were not recognised: from the content type or name Discord gave. */
export function declaredKind(media: MediaSource): MediaKind {
  const type = media.contentType?.toLowerCase() ?? '';
  if (type === 'image/gif' || /\.gif$/i.test(media.name)) return 'gif';
  if (type.startsWith('video/') || /\.(mp4|m4v|mov|webm|mkv|avi)$/i.test(media.name)) return 'video';
  return 'image';
}
