import type { Message } from 'grammy/types';
import { describe, expect, it } from 'vitest';
import { AnimefyError } from '#src/errors.ts';
import {
  chatActionFor,
  declaredKind,
  findMedia,
  type MediaLookup,
  type MediaRef,
  PHOTO_MAX_BYTES,
  replyMethod,
  requestedFormat,
} from '#src/bots/telegram/media.ts';
import type { MediaKind } from '#src/queue/types.ts';

function message(fields: Record<string, unknown>): Message {
  return { message_id: 1, date: 1_700_000_000, chat: { id: 10, type: 'private', first_name: 'A' }, ...fields } as unknown as Message;
}

const file = (id: string, extra: Record<string, unknown> = {}) => ({ file_id: `id-${id}`, file_unique_id: `u-${id}`, ...extra });

function media(found: MediaLookup | undefined): MediaRef {
  expect(found).toBeDefined();
  if (!found || !('media' in found)) throw new Error(`expected media, got ${JSON.stringify(found)}`);
  return found.media;
}

function refusal(found: MediaLookup | undefined): AnimefyError {
  expect(found).toBeDefined();
  if (!found || !('refusal' in found)) throw new Error(`expected a refusal, got ${JSON.stringify(found)}`);
  expect(found.refusal).toBeInstanceOf(AnimefyError);
  return found.refusal;
}

const sticker = (extra: Record<string, unknown>) =>
  file('st', { type: 'regular', width: 512, height: 512, is_animated: false, is_video: false, file_size: 30_000, ...extra });

describe('findMedia', () => {
  it('nothing for no message or a text-only message', () => {
    expect(findMedia(undefined)).toBeUndefined();
    expect(findMedia(message({ text: 'hello' }))).toBeUndefined();
    expect(findMedia(message({ photo: [] }))).toBeUndefined();
  });

  it('a photo: the largest size, as JPEG', () => {
    const found = media(
      findMedia(
        message({
          photo: [file('s', { width: 90, height: 60, file_size: 1_000 }), file('m', { width: 320, height: 213, file_size: 9_000 }), file('l', { width: 1280, height: 853, file_size: 120_000 })],
          caption: '/animefy',
        }),
      ),
    );
    expect(found).toEqual({ type: 'photo', fileId: 'id-l', fileUniqueId: 'u-l', fileSize: 120_000, mimeType: 'image/jpeg' });
  });

  it('an animation wins over the document Telegram also puts on the message', () => {
    const gif = file('gif', { width: 320, height: 240, duration: 3, mime_type: 'video/mp4', file_name: 'cat.gif.mp4', file_size: 200_000 });
    const found = media(findMedia(message({ animation: gif, document: gif })));
    expect(found).toEqual({ type: 'animation', fileId: 'id-gif', fileUniqueId: 'u-gif', fileSize: 200_000, mimeType: 'video/mp4', fileName: 'cat.gif.mp4' });
  });

  it('a video and a video note', () => {
    const video = media(findMedia(message({ video: file('v', { width: 640, height: 360, duration: 5, mime_type: 'video/quicktime', file_name: 'clip.mov', file_size: 3_000_000 }) })));
    expect(video).toMatchObject({ type: 'video', fileId: 'id-v', mimeType: 'video/quicktime', fileName: 'clip.mov', fileSize: 3_000_000 });
    const note = media(findMedia(message({ video_note: file('n', { length: 240, duration: 4, file_size: 400_000 }) })));
    expect(note).toEqual({ type: 'video_note', fileId: 'id-n', fileUniqueId: 'u-n', fileSize: 400_000, mimeType: 'video/mp4' });
  });

  it('a static sticker is a WebP picture, a video sticker a WebM video', () => {
    const still = media(findMedia(message({ sticker: sticker({}) })));
    expect(still).toMatchObject({ type: 'sticker', mimeType: 'image/webp', videoSticker: false, fileSize: 30_000 });
    const moving = media(findMedia(message({ sticker: sticker({ is_video: true }) })));
    expect(moving).toMatchObject({ type: 'sticker', mimeType: 'video/webm', videoSticker: true });
  });

  it('an animated (.tgs) sticker is refused', () => {
    expect(refusal(findMedia(message({ sticker: sticker({ is_animated: true }) }))).code).toBe('ANIMATED_STICKER');
  });

  it('documents with media types are used as files', () => {
    const png = media(findMedia(message({ document: file('d', { mime_type: 'image/png', file_name: 'art.png', file_size: 5_000 }) })));
    expect(png).toEqual({ type: 'document', fileId: 'id-d', fileUniqueId: 'u-d', fileSize: 5_000, mimeType: 'image/png', fileName: 'art.png' });
    expect(media(findMedia(message({ document: file('d', { mime_type: 'video/mp4', file_name: 'a.mp4' }) }))).mimeType).toBe('video/mp4');
    expect(media(findMedia(message({ document: file('d', { mime_type: 'image/GIF', file_name: 'a.gif' }) }))).mimeType).toBe('image/gif');
    // No MIME type at all: tried (the worker sniffs the bytes).
    const unknown = media(findMedia(message({ document: file('d', { file_name: 'photo' }) })));
    expect(unknown.type).toBe('document');
    expect(unknown.mimeType).toBeUndefined();
  });

  it('a PDF is refused by its extension, without downloading', () => {
    const error = refusal(findMedia(message({ document: file('d', { mime_type: 'application/pdf', file_name: 'Report.PDF', file_size: 10_000 }) })));
    expect(error.code).toBe('UNSUPPORTED_MEDIA');
    expect(error.message).toContain('.pdf');
  });

  it('other non-media documents are refused, named by type when there is no extension', () => {
    for (const mime of ['text/plain', 'application/zip', 'application/json', 'application/x-tgsticker', 'application/vnd.ms-excel', 'audio/mpeg']) {
      expect(refusal(findMedia(message({ document: file('d', { mime_type: mime }) }))).code, mime).toBe('UNSUPPORTED_MEDIA');
    }
    expect(refusal(findMedia(message({ document: file('d', { mime_type: 'text/plain' }) }))).message).toContain('text');
    expect(refusal(findMedia(message({ document: file('d', { mime_type: 'audio/mpeg' }) }))).message).toContain('audio');
  });

  it('audio and voice messages are refused', () => {
    const audio = refusal(findMedia(message({ audio: file('a', { duration: 100 }) })));
    expect(audio.code).toBe('UNSUPPORTED_MEDIA');
    expect(audio.message).toContain('audio');
    expect(refusal(findMedia(message({ voice: file('v', { duration: 3 }) }))).code).toBe('UNSUPPORTED_MEDIA');
  });
});

const ref = (type: MediaRef['type'], extra: Partial<MediaRef> = {}): MediaRef => ({ type, fileId: 'f', fileUniqueId: 'u', ...extra });

describe('declaredKind', () => {
  it('classifies by message type and MIME', () => {
    expect(declaredKind(ref('photo', { mimeType: 'image/jpeg' }))).toBe('image');
    expect(declaredKind(ref('animation', { mimeType: 'video/mp4' }))).toBe('video');
    expect(declaredKind(ref('animation', { mimeType: 'image/gif' }))).toBe('gif');
    expect(declaredKind(ref('video', { mimeType: 'video/mp4' }))).toBe('video');
    expect(declaredKind(ref('video_note', { mimeType: 'video/mp4' }))).toBe('video');
    expect(declaredKind(ref('sticker', { mimeType: 'image/webp', videoSticker: false }))).toBe('image');
    expect(declaredKind(ref('sticker', { mimeType: 'video/webm', videoSticker: true }))).toBe('video');
    expect(declaredKind(ref('document', { mimeType: 'image/png' }))).toBe('image');
    expect(declaredKind(ref('document', { mimeType: 'image/gif' }))).toBe('gif');
    expect(declaredKind(ref('document', { mimeType: 'video/quicktime' }))).toBe('video');
    expect(declaredKind(ref('document'))).toBe('image');
  });
});

describe('requestedFormat', () => {
  it('asks for MP4 for animations and videos, WebP for static stickers, the default otherwise', () => {
    expect(requestedFormat(ref('animation'), 'video')).toBe('mp4');
    expect(requestedFormat(ref('document', { mimeType: 'image/gif' }), 'gif')).toBe('mp4');
    expect(requestedFormat(ref('video'), 'video')).toBe('mp4');
    expect(requestedFormat(ref('sticker', { videoSticker: true }), 'video')).toBe('mp4');
    expect(requestedFormat(ref('sticker', { videoSticker: false }), 'image')).toBe('webp');
    expect(requestedFormat(ref('photo'), 'image')).toBeUndefined();
    expect(requestedFormat(ref('document', { mimeType: 'image/png' }), 'image')).toBeUndefined();
  });
});

type Result = Parameters<typeof replyMethod>[1];
const image = (width: number, height: number, bytes = 100_000, format = 'jpeg'): Result => ({ kind: 'image', format, width, height, data: Buffer.alloc(bytes) });
const moving = (kind: MediaKind, format: string): Result => ({ kind, format, width: 480, height: 270, data: Buffer.alloc(1_000) });

describe('replyMethod', () => {
  it('a photo comes back as a photo when Telegram accepts it as one', () => {
    expect(replyMethod(ref('photo'), image(1280, 853))).toBe('photo');
    expect(replyMethod(ref('photo'), image(1280, 853, PHOTO_MAX_BYTES))).toBe('photo');
    expect(replyMethod(ref('photo'), image(1280, 853, 1_000, 'png'))).toBe('photo');
  });

  it('as a document when over 10 MB, too large or too narrow', () => {
    expect(replyMethod(ref('photo'), image(1280, 853, PHOTO_MAX_BYTES + 1))).toBe('document');
    expect(replyMethod(ref('photo'), image(6000, 4001))).toBe('document'); // width + height > 10000
    expect(replyMethod(ref('photo'), image(2560, 2560))).toBe('photo');
    expect(replyMethod(ref('photo'), image(2200, 100))).toBe('document'); // 22:1
    expect(replyMethod(ref('photo'), image(128, 2560))).toBe('photo'); // 20:1
  });

  it('as a document when upscaled, or over 2560 px on a side (sendPhoto would shrink and recompress it)', () => {
    expect(replyMethod(ref('photo'), image(2561, 1400))).toBe('document');
    expect(replyMethod(ref('photo'), image(1600, 1200), 2)).toBe('document');
    expect(replyMethod(ref('photo'), image(1600, 1200), 1)).toBe('photo');
  });

  it('a file sent as a document comes back as a document', () => {
    expect(replyMethod(ref('document', { mimeType: 'image/png' }), image(800, 600, 1_000, 'png'))).toBe('document');
  });

  it('a static sticker comes back as a sticker, unless upscaled past 512 (then a document, keeping its transparency)', () => {
    const still = ref('sticker', { videoSticker: false, mimeType: 'image/webp' });
    expect(replyMethod(still, image(512, 512, 20_000, 'webp'))).toBe('sticker');
    expect(replyMethod(still, image(512, 300, 20_000, 'webp'))).toBe('sticker');
    expect(replyMethod(still, image(1024, 1024, 80_000, 'webp'))).toBe('document');
    expect(replyMethod(still, image(512, 512, 20_000, 'png'))).toBe('photo');
  });

  it('GIFs, animations and video stickers come back as animations; videos as videos', () => {
    expect(replyMethod(ref('animation'), moving('video', 'mp4'))).toBe('animation');
    expect(replyMethod(ref('document', { mimeType: 'image/gif' }), moving('gif', 'mp4'))).toBe('animation');
    expect(replyMethod(ref('photo'), moving('gif', 'gif'))).toBe('animation');
    expect(replyMethod(ref('sticker', { videoSticker: true }), moving('video', 'mp4'))).toBe('animation');
    expect(replyMethod(ref('video'), moving('video', 'mp4'))).toBe('video');
    expect(replyMethod(ref('video_note'), moving('video', 'mp4'))).toBe('video');
    expect(replyMethod(ref('document', { mimeType: 'video/mp4' }), moving('video', 'mp4'))).toBe('video');
  });

  it('WebM always comes back as a document', () => {
    expect(replyMethod(ref('video'), moving('video', 'webm'))).toBe('document');
    expect(replyMethod(ref('animation'), moving('gif', 'webm'))).toBe('document');
  });
});

describe('chatActionFor', () => {
  it('uploads a photo for pictures and a video for GIFs and videos', () => {
    expect(chatActionFor('image')).toBe('upload_photo');
    expect(chatActionFor('gif')).toBe('upload_video');
    expect(chatActionFor('video')).toBe('upload_video');
  });
});
