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
 */
import { randomBytes } from 'node:crypto';
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
interface StoredFile extends FileInfo { bytes: Buffer; file_name?: string; mime_type?: string }
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
    if (upload) {
      const fileExt = extOf(upload.filename) ?? ext;
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
    else if (field === 'sticker') {
      content.sticker = { type: 'regular', width: width || 512, height: height || 512, is_animated: extOf(file.file_path) === 'tgs', is_video: extOf(file.file_path) === 'webm', ...(p.emoji ? { emoji: p.emoji } : {}), ...ref };
    } else content.video_note = { length: Number(p.length ?? (width || 240)), duration, ...ref };
    if (p.caption !== undefined && p.caption !== '' && field !== 'sticker' && field !== 'video_note') {
      content.caption = String(p.caption);
      if (p.caption_entities) content.caption_entities = p.caption_entities;
    }
    return this.botSend(p, content);
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
