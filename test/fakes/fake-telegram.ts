/**
 * Fake Telegram Bot API server for tests.
 *
 * Speaks the real HTTP wire protocol on 127.0.0.1 (random port), so a real grammY client works
 * unchanged with `new Bot(token, { client: { apiRoot: fake.apiRoot } })`, including long polling
 * (`bot.start()` and `@grammyjs/runner`). Tests push user updates (texts, media, button presses),
 * then inspect recorded calls and the current state of the bot's messages. Implements the subset of
 * methods the bots use, with the real API's error descriptions, plus one-shot fault injection.
 *
 * Note: grammY's multipart bodies use `content-disposition:form-data;name="x";filename=y.png`
 * (no spaces, unquoted filename), which undici's `Request.formData()` rejects, hence the small
 * hand-written multipart parser below.
 *
 * Sticker sets (sendSticker, createNewStickerSet, addStickerToSet, getStickerSet) follow the Bot API
 * docs (https://core.telegram.org/bots/api#stickers) and the file rules of
 * https://core.telegram.org/stickers; files are checked by their bytes. The Bot API documents no error
 * texts: the comment at each check says where its text comes from.
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { closeServer } from './close-server.ts';

export interface RecordedCall {
  method: string;
  params: Record<string, any>; // decoded fields (file params replaced by the file info below)
  files: Record<string, { filename: string; contentType: string; bytes: Buffer }>; // uploaded files by param name
  status: number; // HTTP status answered
  result?: any; // the `result` answered (when ok)
  at: number; // Date.now() when received
}
export interface FakeUser { id: number; first_name: string; username?: string; is_bot?: false }
export interface FakeChat { id: number; type: 'private' | 'group' | 'supergroup'; title?: string; username?: string; first_name?: string; is_forum?: true }

type UploadedFile = RecordedCall['files'][string];
type FileInfo = { file_id: string; file_unique_id: string; file_size: number; file_path: string };
interface StoredFile extends FileInfo { bytes: Buffer; file_name?: string; mime_type?: string; sticker?: SetStickerRef }
/** A file that is a sticker of a set: sendSticker with its file_id reports the set. */
interface SetStickerRef { set_name: string; emoji?: string; width: number; height: number; format: StickerFormat }
type StickerFormat = 'static' | 'animated' | 'video';
type StickerType = 'regular' | 'mask' | 'custom_emoji';
/** A sticker checked and ready to go into a set. */
interface PreparedSticker { bytes: Buffer; ext: string; width: number; height: number; format: StickerFormat; emoji_list: string[]; keywords?: string[]; sourceUniqueId: string }
interface SetSticker { file: StoredFile; format: StickerFormat; width: number; height: number; emoji_list: string[]; keywords?: string[]; sourceUniqueId: string }
interface StickerSetState { name: string; title: string; sticker_type: StickerType; ownerId: number; byThisBot: boolean; stickers: SetSticker[] }
interface Poller { limit: number; answer: (updates: any[] | ApiError) => void }
interface CallWaiter { methods: string[]; predicate?: (call: RecordedCall) => boolean; since: number; resolve: (call: RecordedCall) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }
/** One-shot failures: flood control, a server error, another instance polling (getUpdates), a migrated group. */
type Failure = { status: 429; retryAfter: number } | { status: 500 } | { status: 409 } | { status: 403 };
/** What a user message may carry besides its content (albums, spoilers, anonymous senders, topics). */
export interface MessageExtras {
  media_group_id?: string;
  has_spoiler?: boolean;
  /** An anonymous admin (the group itself) or a channel the user posts as; `from` is then a placeholder. */
  sender_chat?: FakeChat | { id: number; type: 'channel'; title: string };
  is_topic_message?: boolean;
  message_thread_id?: number;
}
/** The placeholder `from` of anonymous admins' messages (Telegram's @GroupAnonymousBot). */
export const GROUP_ANONYMOUS_BOT = { id: 1087968824, is_bot: true, first_name: 'Group', username: 'GroupAnonymousBot' } as const;
type Handler = (params: Record<string, any>, files: Record<string, UploadedFile>, res: ServerResponse) => unknown;

class ApiError extends Error {
  constructor(readonly status: number, readonly description: string, readonly parameters?: Record<string, unknown>) {
    super(description);
  }
}
const badRequest = (what: string) => new ApiError(400, `Bad Request: ${what}`);
const ABORTED = Symbol('aborted');
const MAX_DOWNLOAD = 20 * 1024 * 1024;
/** Multipart/urlencoded fields never JSON-decoded (free text or opaque ids). */
const RAW_FIELDS = new Set(['text', 'caption', 'callback_query_id', 'file_id', 'url', 'secret_token', 'inline_message_id', 'emoji', 'title', 'description']);
const NOT_MODIFIED = 'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message';
const MIME: Record<string, string> = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp', mp4: 'video/mp4',
  webm: 'video/webm', mov: 'video/quicktime', txt: 'text/plain', pdf: 'application/pdf', tgs: 'application/x-tgsticker',
};
/** sendX method → media field, storage folder, default extension. */
const MEDIA: Record<string, { field: string; dir: string; ext: string }> = {
  sendPhoto: { field: 'photo', dir: 'photos', ext: 'jpg' },
  sendAnimation: { field: 'animation', dir: 'animations', ext: 'mp4' },
  sendVideo: { field: 'video', dir: 'videos', ext: 'mp4' },
  sendDocument: { field: 'document', dir: 'documents', ext: 'dat' },
  sendSticker: { field: 'sticker', dir: 'stickers', ext: 'webp' },
  sendVideoNote: { field: 'video_note', dir: 'video_notes', ext: 'mp4' },
};

/** addStickerToSet: "Emoji sticker sets can have up to 200 stickers. Other sticker sets can have up to 120 stickers." */
export const STICKER_SET_LIMITS: Record<StickerType, number> = { regular: 120, mask: 120, custom_emoji: 200 };
/** createNewStickerSet: "A JSON-serialized list of 1-50 initial stickers". */
const MAX_INITIAL_STICKERS = 50;
/**
 * Largest sticker files: 512 KB static (the Bot API's png_sticker docs before Bot API 6.6; today's
 * docs name no size), 256 KB video (core.telegram.org/stickers), 64 KB TGS; the same three numbers
 * as TDLib's get_max_sticker_file_size (td/telegram/StickerFormat.cpp), which the Bot API server uses.
 */
const MAX_STICKER_BYTES: Record<StickerFormat, number> = { static: 512 * 1024, animated: 64 * 1024, video: 256 * 1024 };
/** Video stickers: "Video duration must not exceed 3 seconds" (core.telegram.org/stickers). */
const MAX_VIDEO_STICKER_S = 3;
/** Stickers: "one side must be exactly 512 pixels in size – the other side can be 512 pixels or less". */
const stickerSidesOk = (width: number, height: number) => Math.max(width, height) === 512;
/** One emoji: a pictograph, a flag (regional indicators) or a keycap. */
const EMOJI = /^(?=.*(?:\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3))[\p{Extended_Pictographic}\p{Regional_Indicator}\p{Emoji_Modifier}\p{Emoji_Component}\u200D\uFE0F\u20E3]+$/u;

/**
 * Why `name` breaks createNewStickerSet's documented name rules, or undefined when it keeps them:
 * "Can contain only English letters, digits and underscores. Must begin with a letter, can't contain
 * consecutive underscores and must end in "_by_<bot_username>". <bot_username> is case insensitive.
 * 1-64 characters."
 */
export function stickerSetNameProblem(name: string, botUsername: string): string | undefined {
  if (name.length < 1 || name.length > 64) return 'must be 1-64 characters long';
  if (!/^[A-Za-z0-9_]+$/.test(name)) return 'may contain only English letters, digits and underscores';
  if (!/^[A-Za-z]/.test(name)) return 'must begin with a letter';
  if (name.includes('__')) return "can't contain consecutive underscores";
  if (!name.toLowerCase().endsWith(`_by_${botUsername.toLowerCase()}`)) return `must end in _by_${botUsername}`;
  return undefined;
}

/** What the sticker rules need from a WebM (Matroska) file. */
export interface WebmInfo {
  docType?: string;
  /** From Info's Duration, else from the last block's timestamp. */
  durationS?: number;
  tracks: { type?: number; codec?: string; width?: number; height?: number }[];
}

/** An EBML variable-size integer: an element ID (marker bit kept) or a data size (-1: unknown). */
function readVint(buf: Buffer, pos: number, isId: boolean): { value: number; length: number } | undefined {
  if (pos >= buf.length) return undefined;
  const first = buf[pos];
  let length = 1;
  while (length <= 8 && !(first & (0x80 >> (length - 1)))) length++;
  if (length > (isId ? 4 : 8) || pos + length > buf.length) return undefined;
  let value = isId ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    value = value * 256 + buf[pos + i];
    if (buf[pos + i] !== 0xff) allOnes = false;
  }
  return { value: !isId && allOnes ? -1 : value, length };
}

/**
 * Reads the EBML header's DocType, Info (TimecodeScale, Duration) and Tracks (type, CodecID, pixel
 * size) of a WebM file, and block timestamps for files without a Duration. Frames are not decoded:
 * VP9 is taken from the CodecID, and the frame rate (at most 30 FPS) is not checked. Undefined when
 * the bytes do not start with the EBML magic.
 */
export function readWebm(bytes: Buffer): WebmInfo | undefined {
  if (bytes.length < 4 || bytes.readUInt32BE(0) !== 0x1a45dfa3) return undefined;
  const info: WebmInfo = { tracks: [] };
  let scale = 1_000_000; // TimecodeScale default: 1 ms
  let duration: number | undefined;
  let clusterTime = 0;
  let lastTick: number | undefined;
  let track: WebmInfo['tracks'][number] | undefined;
  const uint = (start: number, end: number) => {
    let v = 0;
    for (let i = start; i < end; i++) v = v * 256 + bytes[i];
    return v;
  };
  const walk = (start: number, end: number): void => {
    let pos = start;
    while (pos < end) {
      const id = readVint(bytes, pos, true);
      const size = id && readVint(bytes, pos + id.length, false);
      if (!id || !size) return;
      const from = pos + id.length + size.length;
      const to = size.value < 0 ? end : Math.min(from + size.value, end);
      switch (id.value) {
        case 0x1a45dfa3: // EBML header
        case 0x18538067: // Segment
        case 0x1549a966: // Info
        case 0x1654ae6b: // Tracks
        case 0xe0: // Video
        case 0x1f43b675: // Cluster
        case 0xa0: // BlockGroup
          walk(from, to);
          break;
        case 0xae: // TrackEntry
          track = {};
          info.tracks.push(track);
          walk(from, to);
          track = undefined;
          break;
        case 0x4282: info.docType = bytes.toString('latin1', from, to).replace(/\0+$/, ''); break;
        case 0x2ad7b1: scale = uint(from, to); break;
        case 0x4489: duration = to - from === 4 ? bytes.readFloatBE(from) : to - from === 8 ? bytes.readDoubleBE(from) : undefined; break;
        case 0x83: if (track) track.type = uint(from, to); break;
        case 0x86: if (track) track.codec = bytes.toString('latin1', from, to).replace(/\0+$/, ''); break;
        case 0xb0: if (track) track.width = uint(from, to); break;
        case 0xba: if (track) track.height = uint(from, to); break;
        case 0xe7: clusterTime = uint(from, to); break; // Cluster Timecode
        case 0xa3: // SimpleBlock
        case 0xa1: { // Block: track number, then a signed 16-bit timestamp relative to the cluster
          const trackNumber = readVint(bytes, from, false);
          if (trackNumber && from + trackNumber.length + 2 <= to) {
            const tick = clusterTime + bytes.readInt16BE(from + trackNumber.length);
            lastTick = Math.max(lastTick ?? tick, tick);
          }
          break;
        }
      }
      pos = to;
    }
  };
  walk(0, bytes.length);
  const ticks = duration ?? lastTick;
  if (ticks !== undefined) info.durationS = (ticks * scale) / 1e9;
  return info;
}

/** The container a sticker file is in, by its first bytes. */
function stickerContainer(bytes: Buffer): 'webp' | 'png' | 'tgs' | 'webm' | undefined {
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  if (bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.readUInt32BE(4) === 0x0d0a1a0a) return 'png';
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return 'tgs'; // gzip: TGS is gzipped Lottie JSON
  if (bytes.length >= 4 && bytes.readUInt32BE(0) === 0x1a45dfa3) return 'webm';
  return undefined;
}

const randomId = (bytes: number) => randomBytes(bytes).toString('base64url');
const extOf = (name: string | undefined) => /\.([A-Za-z0-9]+)$/.exec(name ?? '')?.[1]?.toLowerCase();
const now = () => Math.floor(Date.now() / 1000);
const clone = <T>(value: T): T => (value === undefined ? value : structuredClone(value));
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** bot_command entity for `/cmd` or `/cmd@bot` at offset 0, and a mention entity for every `@username`. */
export function computeEntities(text: string): any[] {
  const entities: any[] = [];
  const command = /^\/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?/.exec(text);
  const commandEnd = command ? command[0].length : 0;
  if (command) entities.push({ type: 'bot_command', offset: 0, length: commandEnd });
  for (const m of text.matchAll(/@[A-Za-z0-9_]{3,32}/g)) {
    const offset = m.index ?? 0;
    if (offset < commandEnd || (offset > 0 && /[A-Za-z0-9_]/.test(text[offset - 1]))) continue;
    entities.push({ type: 'mention', offset, length: m[0].length });
  }
  return entities;
}

/** Lenient multipart/form-data parser (accepts grammY's header style as well as the standard one). */
function parseMultipart(body: Buffer, boundary: string) {
  const fields: Record<string, string> = {};
  const files: Record<string, UploadedFile> = {};
  const delimiter = Buffer.from(`--${boundary}`);
  const nextDelimiter = Buffer.from(`\r\n--${boundary}`);
  let pos = body.indexOf(delimiter);
  while (pos !== -1) {
    let start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    if (body[start] === 13 && body[start + 1] === 10) start += 2;
    const end = body.indexOf(nextDelimiter, start);
    if (end === -1) break;
    const part = body.subarray(start, end);
    const headerEnd = part.indexOf('\r\n\r\n');
    const headers = new Map<string, string>();
    for (const line of part.subarray(0, Math.max(headerEnd, 0)).toString('utf8').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const content = headerEnd === -1 ? Buffer.alloc(0) : part.subarray(headerEnd + 4);
    const disposition = headers.get('content-disposition') ?? '';
    const param = (key: string) => {
      const m = new RegExp(`;\\s*${key}\\s*=\\s*(?:"([^"]*)"|([^;]*))`, 'i').exec(disposition);
      return m ? (m[1] ?? m[2].trim()) : undefined;
    };
    const name = param('name');
    const filename = param('filename');
    if (name !== undefined) {
      if (filename !== undefined) {
        files[name] = { filename, contentType: headers.get('content-type') ?? 'application/octet-stream', bytes: Buffer.from(content) };
      } else fields[name] = content.toString('utf8');
    }
    pos = end + 2;
  }
  return { fields, files };
}

function decodeField(key: string, value: string): unknown {
  if (RAW_FIELDS.has(key)) return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const CHAT_ACTIONS = new Set([
  'typing', 'upload_photo', 'record_video', 'upload_video', 'record_voice', 'upload_voice',
  'upload_document', 'choose_sticker', 'find_location', 'record_video_note', 'upload_video_note',
]);

export class FakeTelegram {
  readonly token: string;
  readonly apiRoot: string;
  readonly botUser: { id: number; is_bot: true; first_name: string; username: string };
  readonly calls: RecordedCall[] = [];

  private readonly server: Server;
  private readonly methods: Record<string, Handler>;
  private updates: any[] = [];
  private nextUpdateId = 100_000;
  private pollers = new Set<Poller>();
  private waiters = new Set<CallWaiter>();
  private failures = new Map<string, Failure[]>();
  private memberStatus = new Map<string, string>(); // `${chatId}:${userId}` → 'creator' | 'administrator' | …
  private files = new Map<string, StoredFile>();
  private filesByPath = new Map<string, StoredFile>();
  private chats = new Map<number, FakeChat>();
  private messageIds = new Map<number, number>();
  private messages = new Map<string, any>(); // `${chatId}:${messageId}` → message (user and bot), removed when deleted
  private callbackQueries = new Map<string, { pressedAt: number; answer?: { answeredAfterMs: number; text?: string; show_alert?: boolean } }>();
  private webhookState: { url?: string; secret_token?: string } = {};
  private commands = new Map<string, any[]>();
  private fileCounter = 0;
  private closed = false;
  private revoked = false;
  private migrated = new Map<number, number>(); // old group id → its supergroup's id
  private stickerSets = new Map<string, StickerSetState>(); // lower-cased name → set (names are case-insensitive)
  private knownUsers = new Set<number>(); // users the bot has seen in an update
  private privateUsers = new Set<number>(); // users who have a private chat with the bot

  private constructor(server: Server, port: number, options: { token?: string; botId?: number; botUsername?: string }) {
    this.server = server;
    this.token = options.token ?? '123456:TEST-token_abc';
    this.apiRoot = `http://127.0.0.1:${port}`;
    this.botUser = { id: options.botId ?? 123456, is_bot: true, first_name: 'Animefy Test', username: options.botUsername ?? 'animefy_test_bot' };
    this.methods = this.createMethods();
  }

  static async start(options: { token?: string; botId?: number; botUsername?: string } = {}): Promise<FakeTelegram> {
    let fake: FakeTelegram | undefined;
    const server = createServer((req, res) => {
      fake!.handle(req, res).catch((err) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error_code: 500, description: `Internal Server Error: ${String(err)}` }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    fake = new FakeTelegram(server, (server.address() as AddressInfo).port, options);
    return fake;
  }

  get webhook(): { url?: string; secret_token?: string } {
    return { ...this.webhookState };
  }

  /** Number of getUpdates requests currently held open. */
  get pendingPolls(): number {
    return this.pollers.size;
  }

  /** Number of updates not yet confirmed by a getUpdates offset. */
  get pendingUpdates(): number {
    return this.updates.length;
  }

  // ---------------------------------------------------------------- test-side API: pushing updates

  addFile(bytes: Buffer, filePath: string, options: { reportedSize?: number } = {}): FileInfo {
    const file: StoredFile = {
      file_id: `BQACAgIAAxkBAAI${randomId(36)}`,
      file_unique_id: `AgAD${randomId(9)}`,
      file_size: options.reportedSize ?? bytes.length,
      file_path: filePath,
      bytes: Buffer.from(bytes),
    };
    this.files.set(file.file_id, file);
    this.filesByPath.set(filePath, file);
    return this.fileInfo(file);
  }

  pushUpdate(update: Record<string, any>): number {
    const update_id = this.nextUpdateId++;
    this.updates.push({ update_id, ...clone(update) });
    setImmediate(() => this.wakePollers()); // lets synchronously pushed updates arrive as one batch
    return update_id;
  }

  userMessage(message: { chat: FakeChat; from: FakeUser | typeof GROUP_ANONYMOUS_BOT } & Record<string, any>): any {
    this.chats.set(message.chat.id, { ...message.chat });
    this.seeUser(message.from, message.chat.type === 'private');
    const full: any = { ...clone(message), message_id: this.nextMessageId(message.chat.id), date: now(), from: { is_bot: false, ...message.from } };
    if (full.reply_to_message) full.reply_to_message = this.asReply(full.reply_to_message);
    this.messages.set(`${full.chat.id}:${full.message_id}`, full);
    this.pushUpdate({ message: full });
    return clone(full);
  }

  userText(opts: { chat: FakeChat; from: FakeUser; text: string; reply_to_message?: any; entities?: any[] }): any {
    const entities = opts.entities ?? computeEntities(opts.text);
    return this.userMessage({ ...opts, ...(entities.length ? { entities } : {}) });
  }

  async userPhoto(opts: { chat: FakeChat; from: FakeUser | typeof GROUP_ANONYMOUS_BOT; bytes: Buffer; caption?: string; caption_entities?: any[]; reply_to_message?: any } & MessageExtras): Promise<any> {
    const { bytes, ...rest } = opts;
    const photo = await this.photoSizes(bytes);
    return this.userMessage({ ...rest, ...this.captionFields(opts.caption, opts.caption_entities), photo });
  }

  userDocument(opts: { chat: FakeChat; from: FakeUser; bytes: Buffer; file_name: string; mime_type: string; caption?: string; reportedSize?: number }): any {
    const { bytes, file_name, mime_type, reportedSize, ...rest } = opts;
    const file = this.storeFile(bytes, 'documents', extOf(file_name) ?? 'dat', { reportedSize, file_name, mime_type });
    const document = { file_name, mime_type, ...this.fileRef(file) };
    return this.userMessage({ ...rest, ...this.captionFields(opts.caption), document });
  }

  userAnimation(opts: { chat: FakeChat; from: FakeUser; bytes: Buffer; caption?: string; width?: number; height?: number; duration?: number }): any {
    const { bytes, width, height, duration, ...rest } = opts;
    const file = this.storeFile(bytes, 'animations', 'mp4', { file_name: 'animation.gif.mp4', mime_type: 'video/mp4' });
    const document = { file_name: file.file_name, mime_type: file.mime_type, ...this.fileRef(file) };
    // Like the real API, an animation message also carries the same file as `document`.
    const animation = { ...document, width: width ?? 0, height: height ?? 0, duration: duration ?? 0 };
    return this.userMessage({ ...rest, ...this.captionFields(opts.caption), animation, document });
  }

  userVideo(opts: { chat: FakeChat; from: FakeUser; bytes: Buffer; caption?: string; width?: number; height?: number; duration?: number; reportedSize?: number }): any {
    const { bytes, width, height, duration, reportedSize, ...rest } = opts;
    const file = this.storeFile(bytes, 'videos', 'mp4', { reportedSize, file_name: 'video.mp4', mime_type: 'video/mp4' });
    const video = { file_name: file.file_name, mime_type: file.mime_type, width: width ?? 0, height: height ?? 0, duration: duration ?? 0, ...this.fileRef(file) };
    return this.userMessage({ ...rest, ...this.captionFields(opts.caption), video });
  }

  userVideoNote(opts: { chat: FakeChat; from: FakeUser; bytes: Buffer; length?: number; duration?: number }): any {
    const { bytes, length, duration, ...rest } = opts;
    const file = this.storeFile(bytes, 'video_notes', 'mp4', { mime_type: 'video/mp4' });
    return this.userMessage({ ...rest, video_note: { length: length ?? 240, duration: duration ?? 0, ...this.fileRef(file) } });
  }

  userSticker(opts: { chat: FakeChat; from: FakeUser; bytes: Buffer; is_animated?: boolean; is_video?: boolean; width?: number; height?: number }): any {
    const { bytes, is_animated = false, is_video = false, width, height, ...rest } = opts;
    const ext = is_animated ? 'tgs' : is_video ? 'webm' : 'webp';
    const file = this.storeFile(bytes, 'stickers', ext, { mime_type: MIME[ext] });
    const sticker = { type: 'regular', width: width ?? 512, height: height ?? 512, is_animated, is_video, ...this.fileRef(file) };
    return this.userMessage({ ...rest, sticker });
  }

  pressButton(options: { from: FakeUser; message: any; data: string }): string {
    const id = BigInt.asUintN(63, randomBytes(8).readBigUInt64BE()).toString();
    const current = this.messages.get(`${options.message.chat.id}:${options.message.message_id}`) ?? options.message;
    this.callbackQueries.set(id, { pressedAt: Date.now() });
    this.seeUser(options.from, current.chat?.type === 'private');
    this.pushUpdate({
      callback_query: { id, from: { is_bot: false, ...options.from }, message: current, chat_instance: String(options.message.chat.id * 7919), data: options.data },
    });
    return id;
  }

  // ---------------------------------------------------------------- test-side API: inspection

  callsTo(method: string | string[]): RecordedCall[] {
    const methods = Array.isArray(method) ? method : [method];
    return this.calls.filter((call) => methods.includes(call.method));
  }

  waitForCall(method: string | string[], predicate?: (call: RecordedCall) => boolean, options: { since?: number; timeoutMs?: number } = {}): Promise<RecordedCall> {
    const methods = Array.isArray(method) ? method : [method];
    const since = options.since ?? 0;
    const found = this.calls.slice(since).find((call) => methods.includes(call.method) && (!predicate || predicate(call)));
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter: CallWaiter = {
        methods, predicate, since, resolve, reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          const seen = this.calls.slice(since).map((c) => `${c.method}(${c.status})`).join(', ') || 'none';
          reject(new Error(`FakeTelegram: no matching ${methods.join('/')} call within ${options.timeoutMs ?? 60_000} ms; calls seen: ${seen}`));
        }, options.timeoutMs ?? 60_000),
      };
      this.waiters.add(waiter);
    });
  }

  botMessage(chatId: number, messageId: number): any {
    const message = this.messages.get(`${chatId}:${messageId}`);
    return message?.from?.id === this.botUser.id ? clone(message) : undefined;
  }

  /** All current (not deleted) messages the bot has in a chat, oldest first. */
  botMessages(chatId: number): any[] {
    return [...this.messages.values()].filter((m) => m.chat.id === chatId && m.from?.id === this.botUser.id).map(clone);
  }

  fileBytes(fileId: string): Buffer {
    const file = this.files.get(fileId);
    if (!file) throw new Error(`FakeTelegram: unknown file_id ${fileId}`);
    return Buffer.from(file.bytes);
  }

  /** Makes a user an administrator (or creator, member…) of a group, as getChatMember reports it. */
  setMemberStatus(chatId: number, userId: number, status: 'creator' | 'administrator' | 'member' | 'restricted' | 'left' | 'kicked'): void {
    this.memberStatus.set(`${chatId}:${userId}`, status);
  }

  /**
   * A group becomes a supergroup with a new id. From now on every call naming the old id answers
   * 400 with `parameters.migrate_to_chat_id`, as the real API does. `announce` also delivers the
   * service message (`migrate_to_chat_id`) the old group gets.
   */
  migrateChat(from: FakeChat, to: FakeChat, options: { announce?: boolean; by?: FakeUser } = {}): void {
    this.migrated.set(from.id, to.id);
    this.chats.set(to.id, { ...to });
    if (options.announce) this.userMessage({ chat: from, from: options.by ?? { id: 1, first_name: 'Admin' }, migrate_to_chat_id: to.id });
  }

  /** Makes a stored message `hours` older (Telegram lets bots delete messages for 48 hours only). */
  ageMessage(chatId: number, messageId: number, hours: number): void {
    const message = this.messages.get(`${chatId}:${messageId}`);
    if (!message) throw new Error(`FakeTelegram: no message ${chatId}:${messageId}`);
    message.date -= Math.round(hours * 3600);
  }

  /** The token is revoked (@BotFather /revoke): from now on every call answers 401 Unauthorized. */
  revokeToken(): void {
    this.revoked = true;
    for (const poller of [...this.pollers]) poller.answer(new ApiError(401, 'Unauthorized'));
  }

  /** The user opens a private chat with the bot and presses Start (without a message in the updates). */
  markStartedBot(userId: number): void {
    this.knownUsers.add(userId);
    this.privateUsers.add(userId);
  }

  /**
   * A sticker set this bot did not make (another bot's, or one made with @Stickers) takes `name`:
   * createNewStickerSet answers that the name is occupied, addStickerToSet STICKERSET_INVALID.
   */
  occupyStickerSetName(name: string, options: { ownerId?: number; title?: string } = {}): void {
    if (this.stickerSets.has(name.toLowerCase())) throw new Error(`FakeTelegram: sticker set ${name} exists`);
    this.stickerSets.set(name.toLowerCase(), { name, title: options.title ?? name, sticker_type: 'regular', ownerId: options.ownerId ?? 1, byThisBot: false, stickers: [] });
  }

  /** Fills a set up to `count` stickers with copies (new files) of its last sticker. */
  fillStickerSet(name: string, count: number): void {
    const set = this.stickerSets.get(name.toLowerCase());
    const last = set?.stickers.at(-1);
    if (!set || !last) throw new Error(`FakeTelegram: no sticker set ${name} with a sticker to copy`);
    while (set.stickers.length < count) {
      this.putInSet(set, { ...last, bytes: last.file.bytes, ext: extOf(last.file.file_path) ?? 'webp', sourceUniqueId: `fill-${randomId(6)}` });
    }
  }

  /** The set as getStickerSet answers it, or undefined. */
  stickerSet(name: string): any {
    const set = this.stickerSets.get(name.toLowerCase());
    return set ? this.stickerSetObject(set) : undefined;
  }

  failNext(method: string, failure: Failure): void {
    this.failures.set(method, [...(this.failures.get(method) ?? []), failure]);
  }

  callbackAnswer(queryId: string): { answeredAfterMs: number; text?: string; show_alert?: boolean } | undefined {
    return clone(this.callbackQueries.get(queryId)?.answer);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const poller of [...this.pollers]) poller.answer([]);
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(`FakeTelegram closed while waiting for ${waiter.methods.join('/')}`));
    }
    this.waiters.clear();
    await closeServer(this.server);
  }

  // ---------------------------------------------------------------- HTTP layer

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const body = await readBody(req);
    const download = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (download) {
      const file = this.filesByPath.get(decodeURIComponent(download[2]));
      if (decodeURIComponent(download[1]) !== this.token) return void this.sendJson(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
      if (!file) return void this.sendJson(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.bytes.length });
      return void res.end(file.bytes);
    }
    const route = /^\/bot([^/]+)\/([A-Za-z0-9_]+)\/?$/.exec(url.pathname);
    if (!route) return void this.sendJson(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    const call: RecordedCall = { method: route[2], params: {}, files: {}, status: 0, at };
    try {
      this.parseParams(req, url, body, call);
      if (decodeURIComponent(route[1]) !== this.token || this.revoked) throw new ApiError(401, 'Unauthorized');
      const failure = this.failures.get(call.method)?.shift();
      if (failure?.status === 429) {
        const retry_after = failure.retryAfter;
        throw new ApiError(429, `Too Many Requests: retry after ${retry_after}`, { retry_after });
      }
      if (failure?.status === 409) throw new ApiError(409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running');
      if (failure?.status === 403) throw new ApiError(403, 'Forbidden: bot was blocked by the user');
      const migratedTo = call.params.chat_id !== undefined ? this.migrated.get(Number(call.params.chat_id)) : undefined;
      if (migratedTo !== undefined) throw new ApiError(400, 'Bad Request: group chat was upgraded to a supergroup chat', { migrate_to_chat_id: migratedTo });
      if (failure) throw new ApiError(500, 'Internal Server Error');
      const handler = this.methods[call.method] ?? this.methods[Object.keys(this.methods).find((m) => m.toLowerCase() === call.method.toLowerCase()) ?? ''];
      if (!handler) throw new ApiError(404, 'Not Found: method not found');
      const result = await handler(call.params, call.files, res);
      if (result === ABORTED) return; // client went away (aborted long poll): nothing to answer
      call.result = clone(result);
      this.finish(res, call, 200, { ok: true, result });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const answer = { ok: false, error_code: err.status, description: err.description, ...(err.parameters ? { parameters: err.parameters } : {}) };
      this.finish(res, call, err.status, answer);
    }
  }

  private parseParams(req: IncomingMessage, url: URL, body: Buffer, call: RecordedCall): void {
    const contentType = req.headers['content-type'] ?? '';
    let fields: Record<string, string> = Object.fromEntries(url.searchParams);
    if (contentType.includes('application/json')) {
      if (body.length === 0) return; // grammY sends an empty JSON body for parameterless calls
      try {
        call.params = JSON.parse(body.toString('utf8'));
      } catch {
        throw badRequest("can't parse JSON object");
      }
      return;
    } else if (contentType.includes('multipart/form-data')) {
      const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
      if (!boundary) throw badRequest("can't parse multipart body");
      const parsed = parseMultipart(body, (boundary[1] ?? boundary[2]).trim());
      fields = { ...fields, ...parsed.fields };
      const attached = new Set<string>();
      for (const [key, value] of Object.entries(fields)) {
        const target = value.startsWith('attach://') ? parsed.files[value.slice('attach://'.length)] : undefined;
        if (value.startsWith('attach://') && !target) throw badRequest(`file must be non-empty`);
        if (target) {
          attached.add(value.slice('attach://'.length));
          call.files[key] = target;
        }
      }
      for (const [name, file] of Object.entries(parsed.files)) if (!attached.has(name)) call.files[name] = file;
    } else if (contentType.includes('application/x-www-form-urlencoded')) {
      fields = { ...fields, ...Object.fromEntries(new URLSearchParams(body.toString('utf8'))) };
    }
    for (const [key, value] of Object.entries(fields)) call.params[key] = decodeField(key, value);
    Object.assign(call.params, call.files);
  }

  private sendJson(res: ServerResponse, status: number, body: unknown): void {
    if (res.writableEnded || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private finish(res: ServerResponse, call: RecordedCall, status: number, body: unknown): void {
    call.status = status;
    this.sendJson(res, status, body);
    this.calls.push(call);
    const index = this.calls.length - 1;
    for (const waiter of [...this.waiters]) {
      if (index < waiter.since || !waiter.methods.includes(call.method) || (waiter.predicate && !waiter.predicate(call))) continue;
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
      waiter.resolve(call);
    }
  }

  // ---------------------------------------------------------------- Bot API methods

  private createMethods(): Record<string, Handler> {
    const media = Object.fromEntries(Object.keys(MEDIA).map((method) => [method, (p: Record<string, any>, f: Record<string, UploadedFile>) => this.sendMedia(method, p, f)]));
    return {
      ...media,
      getMe: () => ({ ...this.botUser, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false }),
      setWebhook: (p) => {
        if (p.drop_pending_updates) this.updates = [];
        this.webhookState = p.url ? { url: String(p.url), ...(p.secret_token ? { secret_token: String(p.secret_token) } : {}) } : {};
        return true;
      },
      deleteWebhook: (p) => {
        if (p.drop_pending_updates) this.updates = [];
        this.webhookState = {};
        return true;
      },
      getWebhookInfo: () => ({ url: this.webhookState.url ?? '', has_custom_certificate: false, pending_update_count: this.updates.length }),
      setMyCommands: (p) => {
        this.commands.set(JSON.stringify([p.scope ?? null, p.language_code ?? '']), p.commands ?? []);
        return true;
      },
      getMyCommands: (p) => this.commands.get(JSON.stringify([p.scope ?? null, p.language_code ?? ''])) ?? [],
      getUpdates: (p, _f, res) => this.getUpdates(p, res),
      getFile: (p) => {
        const file = this.files.get(String(p.file_id));
        if (!file) throw badRequest('invalid file_id');
        if (file.file_size > MAX_DOWNLOAD) throw badRequest('file is too big');
        return this.fileInfo(file);
      },
      getChat: (p) => {
        const chat = this.chats.get(this.chatId(p.chat_id));
        if (!chat) throw badRequest('chat not found');
        return chat;
      },
      getChatMember: (p) => {
        const chatId = this.chatId(p.chat_id);
        if (!this.chats.has(chatId)) throw badRequest('chat not found');
        const userId = Number(p.user_id);
        const status = this.memberStatus.get(`${chatId}:${userId}`) ?? 'member';
        return { status, user: { id: userId, is_bot: false, first_name: `User ${userId}` }, ...(status === 'administrator' ? { can_be_edited: false } : {}) };
      },
      sendChatAction: (p) => {
        // The actions sendChatAction documents; anything else is refused.
        if (!CHAT_ACTIONS.has(String(p.action))) throw badRequest('wrong parameter action in request');
        const chat = this.chats.get(this.chatId(p.chat_id));
        if (p.message_thread_id !== undefined && !chat?.is_forum) throw badRequest('message thread not found');
        return true;
      },
      sendMessage: (p) => {
        const text = p.text === undefined ? '' : String(p.text);
        if (!text.trim()) throw badRequest('message text is empty');
        if (text.length > 4096) throw badRequest('message is too long');
        return this.botSend(p, { text, ...(p.entities ? { entities: p.entities } : {}) });
      },
      editMessageText: (p) =>
        this.edit(p, 'text', (m) => {
          if (m.text === undefined) throw badRequest('there is no text in the message to edit');
          const text = String(p.text ?? '');
          if (!text.trim()) throw badRequest('message text is empty');
          return { text, entities: p.entities };
        }),
      editMessageCaption: (p) =>
        this.edit(p, 'caption', (m) => {
          if (m.text !== undefined) throw badRequest('there is no caption in the message to edit');
          if (p.caption !== undefined && String(p.caption).length > 1024) throw badRequest('message caption is too long');
          return { caption: p.caption === undefined || p.caption === '' ? undefined : String(p.caption), caption_entities: p.caption_entities };
        }),
      editMessageReplyMarkup: (p) => this.edit(p, undefined, () => ({})),
      deleteMessage: (p) => {
        const key = `${this.chatId(p.chat_id)}:${Number(p.message_id)}`;
        if (!this.messages.has(key)) throw badRequest('message to delete not found');
        // "A message can only be deleted if it was sent less than 48 hours ago."
        if (now() - this.messages.get(key).date >= 48 * 3600) throw badRequest("message can't be deleted for everyone");
        this.messages.delete(key);
        return true;
      },
      getStickerSet: (p) => {
        const set = this.stickerSets.get(String(p.name ?? '').toLowerCase());
        // Reported (e.g. TelegramBots/Telegram.Bot#444): an unknown set is STICKERSET_INVALID.
        if (!set) throw badRequest('STICKERSET_INVALID');
        return this.stickerSetObject(set);
      },
      createNewStickerSet: (p, f) => this.createNewStickerSet(p, f),
      addStickerToSet: (p, f) => this.addStickerToSet(p, f),
      answerCallbackQuery: (p) => {
        const query = this.callbackQueries.get(String(p.callback_query_id));
        if (!query || query.answer) throw badRequest('query is too old and response timeout expired or query ID is invalid');
        query.answer = { answeredAfterMs: Date.now() - query.pressedAt, ...(p.text !== undefined ? { text: String(p.text) } : {}), ...(p.show_alert !== undefined ? { show_alert: Boolean(p.show_alert) } : {}) };
        return true;
      },
    };
  }

  private getUpdates(p: Record<string, any>, res: ServerResponse): unknown {
    if (this.webhookState.url) throw new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    const offset = Number(p.offset ?? 0);
    if (offset < 0) this.updates = this.updates.slice(offset);
    else this.updates = this.updates.filter((u) => u.update_id >= offset);
    const limit = Math.min(Math.max(Number(p.limit ?? 100) || 100, 1), 100);
    const timeout = Math.max(Number(p.timeout ?? 0) || 0, 0);
    if (this.updates.length > 0 || timeout === 0 || this.closed) return clone(this.updates.slice(0, limit));
    for (const other of [...this.pollers]) {
      // Like the real API, a newer poll terminates the one still held open.
      other.answer(new ApiError(409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running'));
    }
    return new Promise((resolve, reject) => {
      const poller: Poller = {
        limit,
        answer: (updates) => {
          this.pollers.delete(poller);
          clearTimeout(timer);
          res.off('close', onClose);
          if (updates instanceof ApiError) reject(updates);
          else resolve(clone(updates));
        },
      };
      const timer = setTimeout(() => poller.answer([]), timeout * 1000);
      const onClose = () => {
        if (res.writableEnded) return;
        this.pollers.delete(poller);
        clearTimeout(timer);
        resolve(ABORTED);
      };
      res.on('close', onClose);
      this.pollers.add(poller);
    });
  }

  private wakePollers(): void {
    if (this.updates.length === 0) return;
    for (const poller of [...this.pollers]) poller.answer(this.updates.slice(0, poller.limit));
  }

  private async sendMedia(method: string, p: Record<string, any>, files: Record<string, UploadedFile>): Promise<any> {
    const { field, dir, ext } = MEDIA[method];
    if (p.caption !== undefined && String(p.caption).length > 1024) throw badRequest('message caption is too long');
    const input = p[field];
    let file: StoredFile;
    const upload = files[field];
    if (upload && field === 'sticker' && !['webp', 'tgs', 'webm'].includes(stickerContainer(upload.bytes) ?? '')) {
      // sendSticker takes "a new .WEBP, .TGS, or .WEBM sticker"; the docs name no error text for others.
      throw badRequest('wrong file type: expected a .WEBP, .TGS or .WEBM sticker');
    }
    if (upload) {
      const fileExt = (field === 'sticker' ? stickerContainer(upload.bytes) : undefined) ?? extOf(upload.filename) ?? ext;
      const mime = upload.contentType !== 'application/octet-stream' ? upload.contentType : MIME[fileExt] ?? upload.contentType;
      file = this.storeFile(upload.bytes, dir, fileExt, { file_name: upload.filename, mime_type: mime });
    } else if (typeof input === 'string' && input) {
      const known = this.files.get(input);
      if (!known) throw badRequest('wrong file identifier/HTTP URL specified');
      file = known;
    } else throw badRequest(`there is no ${field} in the request`);
    const probe = await sharp(file.bytes).metadata().then((m) => ({ width: m.width, height: m.height }), () => undefined);
    const ref = this.fileRef(file);
    const named = { ...(file.file_name ? { file_name: file.file_name } : {}), ...(file.mime_type ? { mime_type: file.mime_type } : {}), ...ref };
    const width = Number(p.width ?? probe?.width ?? 0);
    const height = Number(p.height ?? probe?.height ?? 0);
    const duration = Number(p.duration ?? 0);
    const content: Record<string, any> = {};
    if (field === 'photo') {
      if (!probe) throw badRequest('IMAGE_PROCESS_FAILED');
      content.photo = await this.photoSizes(file.bytes, file);
    } else if (field === 'animation') {
      content.animation = { ...named, width, height, duration };
      content.document = named;
    } else if (field === 'video') content.video = { ...named, width, height, duration };
    else if (field === 'document') content.document = named;
    else if (field === 'sticker') content.sticker = this.messageSticker(file, { width, height, emoji: upload && p.emoji ? String(p.emoji) : undefined });
    else content.video_note = { length: Number(p.length ?? (width || 240)), duration, ...ref };
    if (p.caption !== undefined && p.caption !== '' && field !== 'sticker' && field !== 'video_note') {
      content.caption = String(p.caption);
      if (p.caption_entities) content.caption_entities = p.caption_entities;
    }
    return this.botSend(p, content);
  }

  /** The Sticker of a sent message: its kind and size from the file's bytes, its set if it is in one. */
  private messageSticker(file: StoredFile, seen: { width: number; height: number; emoji?: string }): any {
    const set = file.sticker;
    const container = stickerContainer(file.bytes) ?? extOf(file.file_path);
    const webm = container === 'webm' ? readWebm(file.bytes)?.tracks.find((t) => t.type === 1) : undefined;
    const width = set?.width ?? webm?.width ?? (seen.width || 512);
    const height = set?.height ?? webm?.height ?? (seen.height || 512);
    const emoji = set?.emoji ?? seen.emoji;
    return {
      type: 'regular', width, height, is_animated: container === 'tgs', is_video: container === 'webm',
      ...(emoji ? { emoji } : {}), ...(set ? { set_name: set.set_name } : {}), ...this.fileRef(file),
    };
  }

  /** A user id for the sticker set methods: the Bot API must know the user, and it must not be a bot. */
  private stickerUser(value: unknown): number {
    const userId = Number(value);
    if (!Number.isSafeInteger(userId) || userId <= 0) throw badRequest('invalid user_id specified');
    // Reported (tdlib/td#1377, teloxide's ApiError::StickerSetOwnerIsBot): a bot can't own a set.
    if (userId === this.botUser.id) throw badRequest('USER_IS_BOT');
    // Reported (python-telegram-bot#3667): a user the bot has never seen is unknown to the Bot API.
    if (!this.knownUsers.has(userId)) throw badRequest('user not found');
    return userId;
  }

  private async createNewStickerSet(p: Record<string, any>, files: Record<string, UploadedFile>): Promise<true> {
    const userId = this.stickerUser(p.user_id);
    // TDLib (StickersManager::create_new_sticker_set) trims the title and cuts it to 64 characters.
    const title = Array.from(String(p.title ?? '').trim()).slice(0, 64).join('');
    if (!title) throw badRequest("Sticker set title can't be empty");
    const name = String(p.name ?? '').trim();
    if (!name) throw badRequest("Sticker set name can't be empty");
    // Error text as reported (teloxide's ApiError::InvalidStickerName).
    if (stickerSetNameProblem(name, this.botUser.username)) throw badRequest('invalid sticker set name is specified');
    const type = (p.sticker_type ?? 'regular') as StickerType;
    if (!(type in STICKER_SET_LIMITS)) throw badRequest('unsupported sticker type specified'); // text unverified
    if (!Array.isArray(p.stickers)) throw badRequest("can't parse stickers JSON object"); // text unverified
    if (p.stickers.length === 0) throw badRequest('At least 1 sticker must be specified'); // TDLib's text
    if (p.stickers.length > MAX_INITIAL_STICKERS) throw badRequest('too many stickers specified'); // text unverified
    const prepared: PreparedSticker[] = [];
    for (const input of p.stickers) prepared.push(await this.prepareSticker(input, files));
    // Reported (kang bots: "Peer_id_invalid" → "Contact me in PM first"): the owner must have
    // started the bot in a private chat, not only be known from a group.
    if (!this.privateUsers.has(userId)) throw badRequest('PEER_ID_INVALID');
    // Text as reported (teloxide's ApiError::StickerSetNameOccupied). Checked after the awaits, so two
    // racing creations of one name get one set and one refusal.
    if (this.stickerSets.has(name.toLowerCase())) throw badRequest('sticker set name is already occupied');
    const set: StickerSetState = { name, title, sticker_type: type, ownerId: userId, byThisBot: true, stickers: [] };
    this.stickerSets.set(name.toLowerCase(), set);
    for (const sticker of prepared) this.putInSet(set, sticker);
    return true;
  }

  private async addStickerToSet(p: Record<string, any>, files: Record<string, UploadedFile>): Promise<true> {
    const userId = this.stickerUser(p.user_id);
    const set = this.stickerSets.get(String(p.name ?? '').toLowerCase());
    // "Use this method to add a new sticker to a set created by the bot" with the owner's user_id.
    // Reported: a missing set, or one the bot or the user does not own, is STICKERSET_INVALID.
    if (!set || !set.byThisBot || set.ownerId !== userId) throw badRequest('STICKERSET_INVALID');
    const sticker = await this.prepareSticker(p.sticker, files);
    // "If exactly the same sticker had already been added to the set, then the set isn't changed."
    if (set.stickers.some((s) => s.sourceUniqueId === sticker.sourceUniqueId || s.file.file_unique_id === sticker.sourceUniqueId)) return true;
    // Error text as reported (pyrogram#1055, moe-sticker-bot#40).
    if (set.stickers.length >= STICKER_SET_LIMITS[set.sticker_type]) throw badRequest('STICKERS_TOO_MUCH');
    this.putInSet(set, sticker);
    return true;
  }

  /** Checks an InputSticker and its file. */
  private async prepareSticker(input: unknown, files: Record<string, UploadedFile>): Promise<PreparedSticker> {
    const s = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
    // "sticker not found" as reported (televerse#58); the "format" text is by analogy.
    if (typeof s.sticker !== 'string' || !s.sticker) throw badRequest("can't parse InputSticker: sticker not found");
    const format = s.format;
    if (format !== 'static' && format !== 'animated' && format !== 'video') throw badRequest("can't parse InputSticker: format not found");
    // "List of 1-20 emoji"; text as reported (node-telegram-bot-api#1236).
    const emoji = s.emoji_list;
    if (!Array.isArray(emoji) || emoji.length < 1 || emoji.length > 20 || !emoji.every((e) => typeof e === 'string' && EMOJI.test(e))) {
      throw badRequest('invalid sticker emojis');
    }
    let bytes: Buffer;
    let sourceUniqueId: string;
    if (s.sticker.startsWith('attach://')) {
      const upload = files[s.sticker.slice('attach://'.length)];
      if (!upload) throw badRequest('file must be non-empty');
      bytes = upload.bytes;
      sourceUniqueId = `upload-${randomId(9)}`;
    } else {
      // A file_id must name a file on the server. The fake fetches no HTTP URLs.
      const known = this.files.get(s.sticker);
      if (!known) throw badRequest('wrong file identifier/HTTP URL specified');
      bytes = known.bytes;
      sourceUniqueId = known.file_unique_id;
    }
    const file = await this.checkStickerFile(bytes, format);
    const keywords = Array.isArray(s.keywords) ? s.keywords.map(String) : undefined; // not checked
    return { ...file, format, emoji_list: emoji as string[], ...(keywords ? { keywords } : {}), sourceUniqueId };
  }

  /**
   * The file rules of core.telegram.org/stickers, by the bytes. Error texts: Telegram's documented
   * MTProto errors (core.telegram.org/method/stickers.createStickerSet) as the Bot API passes them on
   * (reported for STICKER_PNG_DIMENSIONS, STICKER_PNG_NOPNG, STICKER_VIDEO_NOWEBM); unverified:
   * "file is too big" (the Bot API's text for oversized files elsewhere), STICKER_VIDEO_LONG, and
   * STICKER_FILE_INVALID for an audio track.
   */
  private async checkStickerFile(bytes: Buffer, format: StickerFormat): Promise<Pick<PreparedSticker, 'bytes' | 'ext' | 'width' | 'height'>> {
    const container = stickerContainer(bytes);
    if (format === 'static') {
      if (bytes.length > MAX_STICKER_BYTES.static) throw badRequest('file is too big');
      // "static" is "a .WEBP or .PNG image".
      if (container !== 'webp' && container !== 'png') throw badRequest('STICKER_PNG_NOPNG');
      const meta = await sharp(bytes).metadata().catch(() => undefined);
      if (!meta?.width || !meta.height) throw badRequest('STICKER_PNG_NOPNG');
      if (!stickerSidesOk(meta.width, meta.height)) throw badRequest('STICKER_PNG_DIMENSIONS');
      // Sets serve static stickers as WEBP: a PNG is converted (widely reported, not in the docs).
      const webp = container === 'webp' ? bytes : await sharp(bytes).webp({ lossless: true }).toBuffer();
      return { bytes: webp, ext: 'webp', width: meta.width, height: meta.height };
    }
    if (format === 'animated') {
      if (bytes.length > MAX_STICKER_BYTES.animated) throw badRequest('file is too big');
      // TGS: gzipped Lottie JSON on a 512x512 canvas.
      let lottie: any;
      try {
        lottie = container === 'tgs' ? JSON.parse(gunzipSync(bytes).toString('utf8')) : undefined;
      } catch {
        lottie = undefined;
      }
      if (lottie?.w !== 512 || lottie?.h !== 512) throw badRequest('STICKER_TGS_NOTGS');
      return { bytes, ext: 'tgs', width: 512, height: 512 };
    }
    // Video: "WEBM format encoded with the VP9 codec", "no audio stream", ≤ 3 s, ≤ 256 KB, 512 px.
    if (bytes.length > MAX_STICKER_BYTES.video) throw badRequest('STICKER_VIDEO_BIG');
    const webm = readWebm(bytes);
    const video = webm?.tracks.find((t) => t.type === 1);
    if (webm?.docType !== 'webm' || video?.codec !== 'V_VP9') throw badRequest('STICKER_VIDEO_NOWEBM');
    if (webm.tracks.some((t) => t.type === 2)) throw badRequest('STICKER_FILE_INVALID');
    if (!video.width || !video.height || !stickerSidesOk(video.width, video.height)) throw badRequest('STICKER_GIF_DIMENSIONS');
    if (webm.durationS !== undefined && webm.durationS > MAX_VIDEO_STICKER_S + 1e-6) throw badRequest('STICKER_VIDEO_LONG');
    return { bytes, ext: 'webm', width: video.width, height: video.height };
  }

  /** Stores a checked sticker as a new file of the set (a set's stickers have their own file_ids). */
  private putInSet(set: StickerSetState, sticker: PreparedSticker): void {
    const file = this.storeFile(sticker.bytes, 'stickers', sticker.ext, { mime_type: MIME[sticker.ext] });
    file.sticker = { set_name: set.name, emoji: sticker.emoji_list[0], width: sticker.width, height: sticker.height, format: sticker.format };
    const { bytes: _bytes, ext: _ext, ...rest } = sticker;
    set.stickers.push({ ...rest, file });
  }

  private stickerSetObject(set: StickerSetState): any {
    const stickers = set.stickers.map((s) => ({
      ...this.fileRef(s.file), type: set.sticker_type, width: s.width, height: s.height,
      is_animated: s.format === 'animated', is_video: s.format === 'video', emoji: s.emoji_list[0], set_name: set.name,
    }));
    return { name: set.name, title: set.title, sticker_type: set.sticker_type, stickers };
  }

  private seeUser(from: { id: number; is_bot?: boolean }, inPrivateChat: boolean): void {
    if (from.is_bot || from.id === GROUP_ANONYMOUS_BOT.id) return;
    this.knownUsers.add(from.id);
    if (inPrivateChat) this.privateUsers.add(from.id);
  }

  private botSend(p: Record<string, any>, content: Record<string, any>): any {
    const chatId = this.chatId(p.chat_id);
    const chat = this.chats.get(chatId) ?? { id: chatId, type: 'private' };
    const message: any = { message_id: this.nextMessageId(chatId), from: { ...this.botUser }, chat: { ...chat }, date: now(), ...content };
    const replyId = p.reply_parameters?.message_id ?? p.reply_to_message_id;
    const replied = replyId !== undefined ? this.messages.get(`${chatId}:${Number(replyId)}`) : undefined;
    if (replied) message.reply_to_message = this.asReply(replied);
    if (p.reply_markup) message.reply_markup = p.reply_markup;
    this.messages.set(`${chatId}:${message.message_id}`, message);
    return message;
  }

  private edit(p: Record<string, any>, field: 'text' | 'caption' | undefined, change: (message: any) => Record<string, any>): any {
    const message = this.messages.get(`${this.chatId(p.chat_id)}:${Number(p.message_id)}`);
    if (!message) throw badRequest('message to edit not found');
    if (message.from?.id !== this.botUser.id) throw badRequest("message can't be edited");
    const updates = change(message);
    const markup = p.reply_markup && (p.reply_markup.inline_keyboard?.length ?? 1) > 0 ? p.reply_markup : undefined;
    const fieldSame = field === undefined || message[field] === updates[field];
    if (fieldSame && sameJson(message.reply_markup, markup)) throw badRequest(NOT_MODIFIED);
    for (const [key, value] of Object.entries(updates)) {
      if (value === undefined) delete message[key];
      else message[key] = value;
    }
    if (markup) message.reply_markup = markup;
    else delete message.reply_markup;
    message.edit_date = now();
    return message;
  }

  // ---------------------------------------------------------------- helpers

  private chatId(value: unknown): number {
    if (value === undefined || value === null || value === '') throw badRequest('chat_id is empty');
    if (typeof value === 'string' && value.startsWith('@')) {
      const chat = [...this.chats.values()].find((c) => c.username?.toLowerCase() === value.slice(1).toLowerCase());
      if (!chat) throw badRequest('chat not found');
      return chat.id;
    }
    const id = Number(value);
    if (!Number.isFinite(id)) throw badRequest('chat not found');
    return id;
  }

  private nextMessageId(chatId: number): number {
    const id = (this.messageIds.get(chatId) ?? 0) + 1;
    this.messageIds.set(chatId, id);
    return id;
  }

  /** A message as embedded in `reply_to_message` (the API does not nest replies further). */
  private asReply(message: any): any {
    const stored = this.messages.get(`${message.chat?.id}:${message.message_id}`) ?? message;
    const { reply_to_message: _nested, ...rest } = clone(stored);
    return rest;
  }

  private captionFields(caption: string | undefined, entities?: any[]): Record<string, any> {
    if (caption === undefined) return {};
    const caption_entities = entities ?? computeEntities(caption);
    return { caption, ...(caption_entities.length ? { caption_entities } : {}) };
  }

  private storeFile(bytes: Buffer, dir: string, ext: string, meta: { reportedSize?: number; file_name?: string; mime_type?: string } = {}): StoredFile {
    const info = this.addFile(bytes, `${dir}/file_${this.fileCounter++}.${ext}`, { reportedSize: meta.reportedSize });
    const file = this.files.get(info.file_id)!;
    if (meta.file_name) file.file_name = meta.file_name;
    if (meta.mime_type) file.mime_type = meta.mime_type;
    return file;
  }

  /** PhotoSize[]: a ≤90 px thumbnail (real JPEG bytes) and the full size (the original bytes). */
  private async photoSizes(bytes: Buffer, existing?: StoredFile): Promise<any[]> {
    const meta = await sharp(bytes).metadata();
    const width = meta.width ?? 0;
    const height = meta.height ?? 0;
    const full = existing ?? this.storeFile(bytes, 'photos', meta.format === 'jpeg' ? 'jpg' : meta.format ?? 'jpg');
    const side = Math.max(1, Math.min(90, Math.ceil(Math.max(width, height) / 2)));
    const { data, info } = await sharp(bytes).resize(side, side, { fit: 'inside' }).jpeg().toBuffer({ resolveWithObject: true });
    const small = this.storeFile(data, 'photos', 'jpg');
    return [
      { ...this.fileRef(small), width: info.width, height: info.height },
      { ...this.fileRef(full), width, height },
    ];
  }

  private fileRef(file: StoredFile): { file_id: string; file_unique_id: string; file_size: number } {
    return { file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: file.file_size };
  }

  private fileInfo(file: StoredFile): FileInfo {
    return { ...this.fileRef(file), file_path: file.file_path };
  }
}
