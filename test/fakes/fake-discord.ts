/**
 * Fake Discord (REST API v10 + Gateway + loopback CDN) for tests.
 *
 * One HTTP server on 127.0.0.1 (random port) speaks the real wire protocols, so a real discord.js
 * client works unchanged:
 *
 *   const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiBase } });
 *   await client.login(fake.token);
 *
 * - REST under `/api/v10/...` (discord.js appends `/v10` to `rest.api`): interaction callbacks, the
 *   interaction webhooks (@original, follow-ups), application commands, channel messages, DMs and users,
 *   with Discord's error codes, `Authorization: Bot <token>` checks, JSON and multipart bodies
 *   (`payload_json` + `files[N]`) and one-shot fault injection (429 with the rate-limit headers
 *   @discordjs/rest waits on, 500, or any status/code).
 * - Gateway (JSON encoding, no compression) on the same port: HELLO, heartbeat ACKs, IDENTIFY → READY +
 *   GUILD_CREATE (one guild, one text channel, so `clientReady` fires at once), RESUME → INVALID_SESSION,
 *   and INTERACTION_CREATE dispatches pushed by tests (`slashCommand`, `contextMenu`, `button`, `select`).
 * - CDN: attachments (user-provided via `addAttachment` or uploaded by the bot) are served from signed
 *   `/attachments/<channel>/<id>/<name>?ex=&is=&hm=&` URLs (unsigned URLs get 404, like Discord), with
 *   download counters; `serveRaw` serves arbitrary bytes (embed images).
 *
 * Every REST request is recorded (`requests`); messages are kept as `FakeMessage` records with test-only
 * fields (current file bytes, `deleted`, `edits`, content `history`). Interactions not acknowledged within
 * 3 s expire (callbacks then get 10062 Unknown interaction), and `expireToken` makes the interaction
 * webhook answer 50027 Invalid Webhook Token, like a token older than 15 minutes.
 *
 * Documented rules it copies beyond the happy path:
 * - a follow-up right after a deferred reply edits that "thinking…" reply (ephemeral flag ignored), and
 *   fails with 10008 Unknown Message once that reply was deleted;
 * - where an interaction comes from (`place`: the server, a server where only the user installed the app,
 *   the bot's DM, a group DM) sets `context`, `authorizing_integration_owners` and `app_permissions`; the
 *   bot can post only where it is (50001 Missing Access elsewhere), with its channel permissions
 *   (`setBotPermissions`: 50001 without View Channel, 50013 without Send Messages or, for files, Attach
 *   Files), and not to a user whose DMs are closed (`closeDms`: 50007);
 * - a forwarded message (`forwardOf`) is empty and carries the original in `message_snapshots`;
 * - files named `SPOILER_…` get the IS_SPOILER attachment flag; CDN URLs stop working past their `ex`
 *   or after `expireAttachment` (404), and command-option uploads are marked `ephemeral`;
 * - sharding (`guildCount`): `/gateway/bot` recommends a shard count, an IDENTIFY with too few shards is
 *   closed with 4011, and each server's events go to its own shard.
 *
 * Notes from discord.js 14.28's source:
 * - every interaction callback is sent with `?with_response=false` (or `true` with `withResponse`), so the
 *   fake answers 204 without a body (and without a content-type: @discordjs/rest would try to parse JSON)
 *   unless `with_response=true`, which gets the InteractionCallbackResponse JSON;
 * - `clientReady` waits (up to `waitGuildTimeout`, 15 s) for a GUILD_CREATE of every guild listed in READY
 *   when the Guilds intent is set, so GUILD_CREATE is sent right after READY;
 * - BaseInteraction reads `entitlements` (must be an array), `authorizing_integration_owners`,
 *   `attachment_size_limit`; MessageComponentInteraction builds a Message from `message`;
 * - @discordjs/rest only treats ids of 17-19 digits as snowflakes in its bucket routes, so all ids here are
 *   real-looking snowflakes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { WebSocketServer, type WebSocket } from 'ws';
import { closeServer } from './close-server.ts';

// ---------------------------------------------------------------- public types

export interface UploadedFile { field: string; filename: string; contentType: string; data: Buffer }
export interface RecordedRequest {
  method: string;
  path: string; // without the `/api/v10` prefix and without the query
  route: string; // e.g. 'PATCH /webhooks/:app/:token/messages/@original'; `${method} ${path}` when no route matched
  query: Record<string, string>;
  json?: any; // JSON body
  payload?: any; // parsed `payload_json` of a multipart body
  body?: any; // whichever of the two was sent
  files: UploadedFile[]; // multipart file parts
  status: number; // HTTP status answered
  response?: any; // JSON answered (absent for 204)
  matched: boolean; // false when the route is unknown to the fake (answered 404)
  error?: string; // the fake's own exception, if it failed (answered 500)
  at: number; // Date.now() when received
}
export interface FakeUserObject {
  id: string; username: string; discriminator: string; global_name: string | null; avatar: string | null;
  bot?: boolean; public_flags?: number;
}
export interface StoredFile { filename: string; contentType: string; data: Buffer }
/** Fault injected with `failNext`: a 429 rate limit, a bare 500, or any Discord error. */
export type Fault =
  | { status: 429; retryAfter: number; global?: boolean }
  | { status: 500 }
  | { status: number; code: number; message: string };
export interface FakeDiscordOptions {
  appId?: string;
  botUserId?: string;
  guildId?: string;
  channelId?: string;
  heartbeatIntervalMs?: number; // HELLO heartbeat_interval (default 41250)
  attachmentSizeLimit?: number; // max upload per file, also sent as `attachment_size_limit` (default 10 MiB)
  ackDeadlineMs?: number; // interactions not acknowledged within this expire (default 3000)
  /**
   * How many servers the bot is in (default 1; only the fake's one guild is real). Decides sharding like
   * Discord: `GET /gateway/bot` recommends one shard per 1,000 servers, and an IDENTIFY with fewer than one
   * shard per 2,500 servers is closed with 4011 Sharding required.
   */
  guildCount?: number;
  /** `session_start_limit.max_concurrency` (default 1: discord.js then identifies one shard every 5 s). */
  maxConcurrency?: number;
}
export interface AttachmentInput {
  content?: string; attachments?: any[]; embeds?: any[]; author?: FakeUserObject; id?: string;
  /** A forwarded message: its own content and files stay empty, the forwarded ones are in `message_snapshots`. */
  forwardOf?: { content?: string; attachments?: any[]; embeds?: any[] };
}
/**
 * Where an interaction comes from (`context` and `authorizing_integration_owners`, as Discord sends them):
 * - `guild`: the fake's server, where the bot is installed (default);
 * - `guild-user-install`: another server, where only the user installed the app (the bot is not a member);
 * - `bot-dm`: the user's DM with the bot;
 * - `group-dm`: a group DM (or a DM between users) through the user-installed app.
 */
export type InteractionPlace = 'guild' | 'guild-user-install' | 'bot-dm' | 'group-dm';

// ---------------------------------------------------------------- constants and helpers

const DISCORD_EPOCH = 1420070400000n;
const EPHEMERAL = 64;
/** Message flag HAS_SNAPSHOT: a forwarded message. */
const HAS_SNAPSHOT = 1 << 14;
/** Attachment flag IS_SPOILER: set for files named `SPOILER_…`. */
const ATTACHMENT_SPOILER = 8;
/** Permission bits the fake enforces on channel messages. */
const PERM = { VIEW_CHANNEL: 1n << 10n, SEND_MESSAGES: 1n << 11n, EMBED_LINKS: 1n << 14n, ATTACH_FILES: 1n << 15n, MENTION_EVERYONE: 1n << 17n } as const;
/** @everyone in a typical server (view, send, history, reactions…): an app without a bot there gets these plus files and links. */
const EVERYONE_PERMISSIONS = (1n << 6n) | (1n << 10n) | (1n << 11n) | (1n << 16n) | (1n << 18n) | (1n << 31n) | (1n << 38n);
const LOADING = 128;
const SUPPRESS_EMBEDS = 4;
const SUPPRESS_NOTIFICATIONS = 4096;
const COMPONENTS_V2 = 32768;
const ALL_PERMISSIONS = '2251799813685247';
const NO_CONTENT = Symbol('no content');
const MIME: Record<string, string> = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp', mp4: 'video/mp4',
  webm: 'video/webm', mov: 'video/quicktime', txt: 'text/plain', json: 'application/json', pdf: 'application/pdf',
};

class ApiError extends Error {
  constructor(readonly status: number, readonly code: number, message: string, readonly errors?: any) {
    super(message);
  }
}
const notFound = () => new ApiError(404, 0, '404: Not Found');
const unknownMessage = () => new ApiError(404, 10008, 'Unknown Message');
const unknownWebhook = () => new ApiError(404, 10015, 'Unknown Webhook');
const unknownInteraction = () => new ApiError(404, 10062, 'Unknown interaction');
const emptyMessage = () => new ApiError(400, 50006, 'Cannot send an empty message');
/** 50035 Invalid Form Body with Discord's nested `errors` object for one field path. */
function invalidForm(path: (string | number)[], code: string, message: string): ApiError {
  const errors: any = {};
  let node = errors;
  for (const key of path) node = node[key] = {};
  node._errors = [{ code, message }];
  return new ApiError(400, 50035, 'Invalid Form Body', errors);
}

const clone = <T>(value: T): T => (value === undefined ? value : structuredClone(value));
const extOf = (name: string) => /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase() ?? '';
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function imageSize(data: Buffer, contentType: string): Promise<{ width?: number; height?: number }> {
  if (!contentType.startsWith('image/')) return {};
  const meta = await sharp(data).metadata().catch(() => undefined);
  return meta?.width && meta.height ? { width: meta.width, height: meta.height } : {};
}

interface CdnFile extends StoredFile { id: string; channelId: string; signature: string; downloads: number; expiresAt: number }
interface Waiter { check: () => unknown; resolve: (value: any) => void; reject: (err: Error) => void; timer: NodeJS.Timeout; describe: () => string }
interface GatewaySession { ws: WebSocket; seq: number; identified: boolean; sessionId?: string; shard: [number, number] }
interface RouteContext { params: Record<string, string>; query: URLSearchParams; body: any; files: UploadedFile[] }
interface Route { method: string; pattern: RegExp; template: string; auth: boolean; handler: (ctx: RouteContext) => unknown }

// ---------------------------------------------------------------- records

/** A message as the fake stores it: the API object (`json`) plus test-only bookkeeping. */
export class FakeMessage {
  files: StoredFile[] = []; // bytes of the current attachments, in order
  deleted = false;
  edits = 0;
  history: string[]; // every content the message had, oldest first
  constructor(public json: any, readonly interactionId?: string) {
    this.history = [json.content ?? ''];
  }
  get id(): string { return this.json.id; }
  get channelId(): string { return this.json.channel_id; }
  get content(): string { return this.json.content; }
  get flags(): number { return this.json.flags ?? 0; }
  get ephemeral(): boolean { return (this.flags & EPHEMERAL) !== 0; }
  get loading(): boolean { return (this.flags & LOADING) !== 0; }
  get attachments(): any[] { return this.json.attachments; }
  get embeds(): any[] { return this.json.embeds; }
  get components(): any[] { return this.json.components; }
}

export interface InteractionCallback { type: number; data?: any; at: number; ms: number; files: UploadedFile[] }

/** An interaction dispatched on the gateway, with what the bot answered. */
export class FakeInteraction {
  readonly callbacks: InteractionCallback[] = [];
  readonly followups: FakeMessage[] = [];
  tokenExpired = false;
  originalId?: string; // message created by a type 4/5 callback
  /** Follow-ups that Discord turned into an edit of the still-loading deferred reply (see `followUp`). */
  followupEdits = 0;
  constructor(
    readonly payload: any,
    readonly dispatchedAt: number,
    private readonly fake: FakeDiscord,
    readonly targetMessageId?: string, // component interactions: the message the component is on
  ) {}
  get id(): string { return this.payload.id; }
  get token(): string { return this.payload.token; }
  get isComponent(): boolean { return this.payload.type === 3; }
  /** Milliseconds from dispatch to the first accepted callback. */
  get ackMs(): number | undefined { return this.callbacks[0]?.ms; }
  /** True when no callback came within the ack deadline (3 s). */
  get expired(): boolean { return this.callbacks.length === 0 && Date.now() - this.dispatchedAt > this.fake.ackDeadlineMs; }

  /** The `@original` message: the callback's message, or for components answered 6/7 the message the component is on. */
  original(): FakeMessage | undefined {
    if (this.originalId) return this.fake.message(this.originalId);
    if (this.targetMessageId && this.callbacks.some((c) => c.type === 6 || c.type === 7)) return this.fake.message(this.targetMessageId);
    return undefined;
  }
  waitForAck(timeoutMs = 5000): Promise<InteractionCallback> {
    return this.fake.waitFor(() => this.callbacks[0], timeoutMs, () => `an ack of interaction ${this.id}`);
  }
  waitForOriginal(predicate: (m: FakeMessage) => boolean = () => true, timeoutMs = 5000): Promise<FakeMessage> {
    return this.fake.waitFor(() => {
      const m = this.original();
      return m && predicate(m) ? m : undefined;
    }, timeoutMs, () => `a matching @original of interaction ${this.id} (now: ${JSON.stringify(this.original()?.json ?? null)})`);
  }
  waitForFollowup(predicate: (m: FakeMessage) => boolean = () => true, timeoutMs = 5000): Promise<FakeMessage> {
    return this.fake.waitFor(() => this.followups.find(predicate), timeoutMs, () => `a matching follow-up of interaction ${this.id} (${this.followups.length} so far)`);
  }
}

// ---------------------------------------------------------------- the fake

export class FakeDiscord {
  readonly token: string;
  readonly apiBase: string;
  readonly cdnOrigin: string;
  readonly gatewayUrl: string;
  readonly appId: string;
  readonly botUserId: string;
  readonly guildId: string;
  readonly channelId: string;
  readonly heartbeatIntervalMs: number;
  readonly attachmentSizeLimit: number;
  readonly ackDeadlineMs: number;
  readonly guildCount: number;
  readonly maxConcurrency: number;
  /** A server where the app is only user-installed (the bot is not a member), and its channel. */
  readonly foreignGuildId = '1200000000000000091';
  readonly foreignChannelId = '1200000000000000092';
  /** A group DM the user-installed app is used in (the bot is not a recipient). */
  readonly groupDmId = '1200000000000000093';
  readonly botUser: FakeUserObject;
  readonly requests: RecordedRequest[] = [];
  readonly identifies: { intents: number; token: string; shard?: [number, number]; properties?: any; at: number }[] = [];
  readonly commands: { global: any[]; guild: Map<string, any[]> } = { global: [], guild: new Map() };
  /** Gateway protocol violations seen (unsupported encoding/compression, bad payloads). */
  readonly protocolErrors: string[] = [];
  heartbeats = 0;
  resumes = 0;

  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly routes: Route[];
  private readonly sessions = new Set<GatewaySession>();
  private readonly waiters = new Set<Waiter>();
  private readonly faults: { match: RegExp; fault: Fault }[] = [];
  private readonly failingChannels = new Set<string>();
  private readonly botPermissions = new Map<string, bigint>(); // channel id → the bot's permissions there (default: all)
  private readonly closedDms = new Set<string>(); // users who accept no DMs from the bot
  private readonly users = new Map<string, FakeUserObject>();
  private readonly dmChannels = new Map<string, any>(); // channel id → DM channel object
  private readonly store = new Map<string, FakeMessage>();
  private readonly interactions = new Map<string, FakeInteraction>();
  private readonly byToken = new Map<string, FakeInteraction>();
  private readonly cdn = new Map<string, CdnFile>();
  private readonly raw = new Map<string, { body: Buffer; contentType: string; downloads: number }>();
  private readonly defaultUser: FakeUserObject;
  private lastId = 0n;
  private userCounter = 0;
  private closed = false;

  private constructor(server: Server, port: number, options: FakeDiscordOptions) {
    this.server = server;
    this.cdnOrigin = `http://127.0.0.1:${port}`;
    this.apiBase = `${this.cdnOrigin}/api`;
    this.gatewayUrl = `ws://127.0.0.1:${port}`;
    this.appId = options.appId ?? '1234567890123456789';
    this.botUserId = options.botUserId ?? this.appId; // like real bots, the bot user shares the application id
    this.guildId = options.guildId ?? '1200000000000000001';
    this.channelId = options.channelId ?? '1200000000000000002';
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 41_250;
    this.attachmentSizeLimit = options.attachmentSizeLimit ?? 10 * 1024 * 1024;
    this.ackDeadlineMs = options.ackDeadlineMs ?? 3000;
    this.guildCount = options.guildCount ?? 1;
    this.maxConcurrency = options.maxConcurrency ?? 1;
    this.token = `${Buffer.from(this.botUserId).toString('base64').replace(/=+$/, '')}.${randomBytes(4).toString('base64url')}.${randomBytes(28).toString('base64url')}`;
    this.botUser = { id: this.botUserId, username: 'Animefy Test', discriminator: '0', global_name: null, avatar: null, bot: true, public_flags: 0 };
    this.users.set(this.botUserId, this.botUser);
    this.defaultUser = this.user('1300000000000000001', 'alice');
    this.routes = this.createRoutes();
    this.wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      if (this.closed) return void socket.destroy();
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onGatewayConnection(ws, req));
    });
  }

  static async start(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
    let fake: FakeDiscord | undefined;
    const server = createServer((req, res) => {
      fake!.handle(req, res).catch((err) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `500: Internal Server Error (${String(err)})`, code: 0 }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    fake = new FakeDiscord(server, (server.address() as AddressInfo).port, options);
    return fake;
  }

  // ---------------------------------------------------------------- test-side API: world objects

  /** A (registered) user object; known users are served by GET /users/:id. */
  user(id?: string, name?: string): FakeUserObject {
    const known = id ? this.users.get(id) : undefined;
    if (known && !name) return clone(known);
    const userId = id ?? this.snowflake();
    const username = name ?? `user${++this.userCounter}`;
    const user: FakeUserObject = { id: userId, username, discriminator: '0', global_name: username, avatar: null, public_flags: 0 };
    this.users.set(userId, user);
    return clone(user);
  }

  /** The guild text channel as the API returns it. */
  textChannel(): any {
    return {
      id: this.channelId, type: 0, guild_id: this.guildId, name: 'general', position: 0, permission_overwrites: [],
      parent_id: null, topic: null, nsfw: false, last_message_id: null, rate_limit_per_user: 0, flags: 0,
    };
  }

  /** The DM channel between the bot and a user (created on first use, like POST /users/@me/channels). */
  dmChannel(userId: string): any {
    for (const channel of this.dmChannels.values()) if (channel.recipients[0].id === userId) return clone(channel);
    const channel = { id: this.snowflake(), type: 1, last_message_id: null, flags: 0, recipients: [this.user(userId)] };
    this.dmChannels.set(channel.id, channel);
    return clone(channel);
  }

  /**
   * Stores bytes on the CDN and returns a full attachment object with a signed URL, valid for `ttlMs`
   * (default a day, Discord's `ex`; files uploaded to a slash-command option may go sooner: `expireAttachment`).
   */
  async addAttachment(filename: string, data: Buffer, contentType?: string, options: { channelId?: string; description?: string; ttlMs?: number } = {}): Promise<any> {
    const type = contentType ?? MIME[extOf(filename)] ?? 'application/octet-stream';
    return this.storeCdnFile(options.channelId ?? this.channelId, filename, Buffer.from(data), type, options.description, options.ttlMs);
  }

  /** The CDN no longer serves this attachment (its URL expired, or Discord removed an ephemeral upload): 404. */
  expireAttachment(urlOrId: string): void {
    const id = /\/attachments\/[^/]+\/([^/]+)\//.exec(urlOrId)?.[1] ?? urlOrId;
    const file = this.cdn.get(id);
    if (!file) throw new Error(`FakeDiscord.expireAttachment: unknown attachment ${urlOrId}`);
    file.expiresAt = 0;
  }

  /** Serves arbitrary bytes at `cdnOrigin + path` (e.g. embed images); returns the full URL. */
  serveRaw(path: string, body: Buffer | string, contentType: string): string {
    const normalized = path.startsWith('/') ? path : `/${path}`;
    this.raw.set(normalized, { body: Buffer.from(body), contentType, downloads: 0 });
    return `${this.cdnOrigin}${normalized}`;
  }

  /** How many times an attachment (any of its URLs, or its id) or a `serveRaw` path was downloaded. */
  downloads(urlOrId: string): number {
    const id = /\/attachments\/[^/]+\/([^/]+)\//.exec(urlOrId)?.[1] ?? urlOrId;
    const file = this.cdn.get(id);
    if (file) return file.downloads;
    const path = urlOrId.startsWith(this.cdnOrigin) ? new URL(urlOrId).pathname : urlOrId;
    return this.raw.get(path)?.downloads ?? 0;
  }

  /** A message sent by a user (not dispatched; the bot only gets Guilds intent), e.g. a context-menu target. */
  async userMessage(input: AttachmentInput & { channelId?: string }): Promise<FakeMessage> {
    const channelId = input.channelId ?? this.channelId;
    const forward = input.forwardOf;
    const json = this.messageJson({
      id: input.id, channelId, author: input.author ?? this.defaultUser, content: forward ? '' : input.content ?? '', type: 0,
      embeds: forward ? [] : (input.embeds ?? []).map((e) => ({ type: 'rich', ...e })), attachments: forward ? [] : clone(input.attachments ?? []),
      flags: forward ? HAS_SNAPSHOT : 0,
      // A forward (reference type 1): the message itself is empty; what was forwarded is a snapshot of the original.
      extra: forward
        ? {
            message_reference: { type: 1, message_id: this.snowflake(), channel_id: this.channelId, guild_id: this.guildId },
            message_snapshots: [{
              message: {
                type: 0, content: forward.content ?? '', embeds: (forward.embeds ?? []).map((e) => ({ type: 'rich', ...e })), attachments: clone(forward.attachments ?? []),
                timestamp: new Date().toISOString(), edited_timestamp: null, flags: 0, mentions: [], mention_roles: [], components: [],
              },
            }],
          }
        : undefined,
    });
    const record = new FakeMessage(json);
    const attachments = forward ? json.message_snapshots[0].message.attachments : json.attachments;
    record.files = attachments.map((a: any) => this.cdnFileOf(a)).filter(Boolean);
    this.store.set(record.id, record);
    return record;
  }

  // ---------------------------------------------------------------- test-side API: interactions

  /** Dispatches a CHAT_INPUT command. Attachment options may carry the attachment object itself as `value`. */
  async slashCommand(opts: {
    name: string; options?: { name: string; type: number; value?: any; options?: any[] }[]; attachments?: any[];
    user?: FakeUserObject; guild?: boolean; attachmentSizeLimit?: number;
    /** The member's permissions in the guild (a bit set as a decimal string; default: all). */
    memberPermissions?: string;
    /** Where it is used (default `guild`; `guild: false` means `bot-dm`). */
    place?: InteractionPlace;
  }): Promise<FakeInteraction> {
    const place = opts.place ?? (opts.guild === false ? 'bot-dm' : 'guild');
    const resolvedAttachments: Record<string, any> = {};
    for (const a of opts.attachments ?? []) resolvedAttachments[a.id] = clone(a);
    const options = (opts.options ?? []).map((o) => {
      if (o.type === 11 && o.value && typeof o.value === 'object') {
        // Files uploaded to a command option are ephemeral attachments: Discord removes them after a while.
        resolvedAttachments[o.value.id] = { ...clone(o.value), ephemeral: true };
        return { ...o, value: o.value.id };
      }
      return clone(o);
    });
    const commandId = this.registeredCommand(opts.name, 1)?.id ?? this.snowflake();
    const data: any = { id: commandId, name: opts.name, type: 1, ...(options.length ? { options } : {}) };
    if (Object.keys(resolvedAttachments).length) data.resolved = { attachments: resolvedAttachments };
    if (place === 'guild' && this.commands.guild.get(this.guildId)?.some((c) => c.id === commandId)) data.guild_id = this.guildId;
    return this.dispatchInteraction(2, data, { user: opts.user, place, attachmentSizeLimit: opts.attachmentSizeLimit, memberPermissions: opts.memberPermissions });
  }

  /** Dispatches a MESSAGE context-menu command on a user message (stored by the fake, so `fake.message(id)` knows it). */
  async contextMenu(opts: { name: string; message: AttachmentInput; user?: FakeUserObject; guild?: boolean; place?: InteractionPlace }): Promise<FakeInteraction> {
    const place = opts.place ?? (opts.guild === false ? 'bot-dm' : 'guild');
    const user = opts.user ?? this.defaultUser;
    const channelId = this.channelFor(place, user.id);
    const target = await this.userMessage({ ...opts.message, author: opts.message.author ?? user, channelId });
    const data = {
      id: this.registeredCommand(opts.name, 3)?.id ?? this.snowflake(), name: opts.name, type: 3, target_id: target.id,
      resolved: { messages: { [target.id]: clone(target.json) } },
    };
    return this.dispatchInteraction(2, data, { user, place });
  }

  /** Dispatches a button press on a stored message (usually one the bot sent). */
  button(opts: { customId: string; message: FakeMessage | any; user?: FakeUserObject }): Promise<FakeInteraction> {
    return this.componentInteraction({ custom_id: opts.customId, component_type: 2 }, opts.message, opts.user);
  }

  /** Dispatches a string-select choice on a stored message. */
  select(opts: { customId: string; values: string[]; message: FakeMessage | any; user?: FakeUserObject }): Promise<FakeInteraction> {
    return this.componentInteraction({ custom_id: opts.customId, component_type: 3, values: [...opts.values] }, opts.message, opts.user);
  }

  interaction(idOrToken: string): FakeInteraction | undefined {
    return this.interactions.get(idOrToken) ?? this.byToken.get(idOrToken);
  }

  /**
   * Sends a raw dispatch (op 0) to the identified gateway sessions of the shard it belongs to (like
   * Discord: a server's events go to shard `(guild_id >> 22) % shard_count`, DMs to shard 0); returns
   * how many got it.
   */
  dispatch(t: string, d: any): number {
    let sent = 0;
    for (const session of this.sessions) {
      if (!session.identified || !this.onShard(session, d?.guild_id)) continue;
      this.send(session, { op: 0, t, s: ++session.seq, d });
      sent++;
    }
    return sent;
  }

  // ---------------------------------------------------------------- test-side API: inspection and faults

  /** Current (not deleted) messages, oldest first, optionally of one channel. */
  messages(channelId?: string): FakeMessage[] {
    return [...this.store.values()].filter((m) => !m.deleted && (!channelId || m.channelId === channelId));
  }

  /** A message record by id (deleted ones included). */
  message(id: string): FakeMessage | undefined {
    return this.store.get(id);
  }

  /** Messages the bot sent to a user's DM channel. */
  dmsTo(userId: string): FakeMessage[] {
    const channel = [...this.dmChannels.values()].find((c) => c.recipients[0].id === userId);
    return channel ? this.messages(channel.id).filter((m) => m.json.author.id === this.botUserId) : [];
  }

  /** REST requests whose route the fake does not implement (all answered 404). */
  /** Gateway connections open now (a bot that stopped cleanly leaves none). */
  get gatewayConnections(): number {
    return this.sessions.size;
  }

  get unhandled(): RecordedRequest[] {
    return this.requests.filter((r) => !r.matched);
  }

  waitForRequest(predicate: (r: RecordedRequest) => boolean, timeoutMs = 5000): Promise<RecordedRequest> {
    return this.waitFor(() => this.requests.find(predicate), timeoutMs, () => `a matching request; seen: ${this.requests.map((r) => `${r.route}(${r.status})`).join(', ') || 'none'}`);
  }

  waitForMessage(predicate: (m: FakeMessage) => boolean, timeoutMs = 5000): Promise<FakeMessage> {
    return this.waitFor(() => this.messages().find(predicate), timeoutMs, () => `a matching message; have: ${this.messages().map((m) => JSON.stringify(m.content)).join(', ') || 'none'}`);
  }

  /** Resolves with the first truthy `check()` result, re-checked after every request and dispatch. */
  waitFor<T>(check: () => T | undefined | null | false, timeoutMs: number, describe: () => string): Promise<T> {
    const found = check();
    if (found) return Promise.resolve(found);
    if (this.closed) return Promise.reject(new Error('FakeDiscord is closed'));
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        check, resolve, reject, describe,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`FakeDiscord: no ${describe()} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Makes the interaction webhook answer 401 50027 Invalid Webhook Token (as after 15 minutes). */
  expireToken(interactionOrToken: FakeInteraction | string): void {
    const interaction = typeof interactionOrToken === 'string' ? this.interaction(interactionOrToken) : interactionOrToken;
    if (!interaction) throw new Error('FakeDiscord.expireToken: unknown interaction');
    interaction.tokenExpired = true;
  }

  /** POST /channels/:id/messages to that channel answers 403 50001 Missing Access from now on. */
  failChannel(channelId: string): void {
    this.failingChannels.add(channelId);
  }

  /**
   * The bot's permissions in a channel of the fake's server (a bit set; default: all). Sent as the
   * interactions' `app_permissions` there, and enforced like Discord on channel messages: without
   * VIEW_CHANNEL 403 50001 Missing Access, without SEND_MESSAGES (or ATTACH_FILES for files) 403 50013 Missing Permissions.
   */
  setBotPermissions(channelId: string, permissions: bigint): void {
    this.botPermissions.set(channelId, permissions);
  }

  botPermissionsIn(channelId: string): bigint {
    return this.botPermissions.get(channelId) ?? BigInt(ALL_PERMISSIONS);
  }

  /** The user accepts no DMs from the bot (privacy settings, or no shared server): sending one answers 403 50007. */
  closeDms(userId: string): void {
    this.closedDms.add(userId);
  }

  /**
   * One-shot fault for the next REST request whose `"METHOD /path"` (no `/api/v10`, no query) or route
   * template (e.g. `PATCH /webhooks/:app/:token/messages/@original`) matches.
   */
  failNext(route: RegExp, fault: Fault): void {
    this.faults.push({ match: route, fault });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(`FakeDiscord closed while waiting for ${waiter.describe()}`));
    }
    this.waiters.clear();
    for (const session of this.sessions) session.ws.terminate();
    this.sessions.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await closeServer(this.server);
  }

  // ---------------------------------------------------------------- gateway

  private onGatewayConnection(ws: WebSocket, req: IncomingMessage): void {
    const session: GatewaySession = { ws, seq: 0, identified: false, shard: [0, 1] };
    this.sessions.add(session);
    ws.on('close', () => this.sessions.delete(session));
    ws.on('error', () => this.sessions.delete(session));
    const query = new URL(req.url ?? '/', this.cdnOrigin).searchParams;
    const version = query.get('v');
    if (version && version !== '10') return void ws.close(4012, 'Invalid API version');
    const encoding = query.get('encoding') ?? 'json';
    if (encoding !== 'json' || query.has('compress')) {
      const problem = `FakeDiscord supports only encoding=json without compress (got encoding=${encoding}, compress=${query.get('compress')})`;
      this.protocolErrors.push(problem);
      return void ws.close(1003, problem.slice(0, 120));
    }
    ws.on('message', (data, isBinary) => this.onGatewayMessage(session, data as Buffer, isBinary));
    this.send(session, { op: 10, s: null, t: null, d: { heartbeat_interval: this.heartbeatIntervalMs, _trace: ['["fake-discord-gateway"]'] } });
  }

  private onGatewayMessage(session: GatewaySession, data: Buffer, isBinary: boolean): void {
    let payload: any;
    try {
      if (isBinary) throw new Error('binary frame');
      payload = JSON.parse(data.toString('utf8'));
    } catch (err) {
      this.protocolErrors.push(`undecodable gateway payload: ${String(err)}`);
      return void session.ws.close(4002, 'Error while decoding payload.');
    }
    switch (payload?.op) {
      case 1: // HEARTBEAT
        this.heartbeats++;
        return this.send(session, { op: 11, s: null, t: null, d: null });
      case 2: // IDENTIFY
        return this.identify(session, payload.d ?? {});
      case 6: // RESUME: sessions are not kept, so the client must identify again
        this.resumes++;
        return this.send(session, { op: 9, s: null, t: null, d: false });
      case 3: case 4: case 8: // presence/voice state updates, member requests: accepted, ignored
        if (!session.identified) return void session.ws.close(4003, 'Not authenticated.');
        return;
      default:
        this.protocolErrors.push(`unknown gateway opcode ${payload?.op}`);
        return void session.ws.close(4001, 'Unknown opcode.');
    }
  }

  private identify(session: GatewaySession, d: any): void {
    if (session.identified) return void session.ws.close(4005, 'Already authenticated.');
    if (d.token !== this.token) return void session.ws.close(4004, 'Authentication failed.');
    if (d.compress) {
      this.protocolErrors.push('IDENTIFY asked for payload compression, which FakeDiscord does not support');
      return void session.ws.close(1003, 'FakeDiscord does not support identify compression');
    }
    const shard: [number, number] = Array.isArray(d.shard) ? [Number(d.shard[0]), Number(d.shard[1])] : [0, 1];
    if (!(Number.isInteger(shard[0]) && Number.isInteger(shard[1]) && shard[0] >= 0 && shard[0] < shard[1])) return void session.ws.close(4010, 'Invalid shard.');
    if (shard[1] < this.requiredShards) return void session.ws.close(4011, 'Sharding required.');
    const intents = Number(d.intents ?? 0);
    this.identifies.push({ intents, token: d.token, shard: d.shard, properties: d.properties, at: Date.now() });
    session.identified = true;
    session.shard = shard;
    const hasGuild = this.onShard(session, this.guildId);
    session.sessionId = hex(16);
    this.send(session, {
      op: 0, t: 'READY', s: ++session.seq,
      d: {
        v: 10, user_settings: {}, user: { ...clone(this.botUser), flags: 0, mfa_enabled: false, verified: true, email: null },
        guilds: hasGuild ? [{ id: this.guildId, unavailable: true }] : [], private_channels: [], relationships: [], presences: [],
        session_type: 'normal', session_id: session.sessionId, resume_gateway_url: this.gatewayUrl,
        shard, application: { id: this.appId, flags: 0 }, geo_ordered_rtc_regions: [], auth: {}, _trace: [],
      },
    });
    // Only clients with the Guilds intent get GUILD_CREATE; discord.js waits for it before `clientReady`.
    if (intents & 1 && hasGuild) this.send(session, { op: 0, t: 'GUILD_CREATE', s: ++session.seq, d: this.guildJson() });
    this.notify();
  }

  private guildJson(): any {
    const joinedAt = new Date().toISOString();
    return {
      id: this.guildId, name: 'Fake Guild', icon: null, splash: null, discovery_splash: null, banner: null, description: null,
      owner_id: this.defaultUser.id, afk_channel_id: null, afk_timeout: 300, verification_level: 0, default_message_notifications: 0,
      explicit_content_filter: 0, mfa_level: 0, nsfw_level: 0, premium_tier: 0, premium_subscription_count: 0, premium_progress_bar_enabled: false,
      application_id: null, system_channel_id: null, system_channel_flags: 0, rules_channel_id: null, public_updates_channel_id: null,
      safety_alerts_channel_id: null, vanity_url_code: null, preferred_locale: 'en-US', max_members: 500_000, max_video_channel_users: 25,
      features: [], emojis: [], stickers: [], incidents_data: null, nsfw: false, hub_type: null, latest_onboarding_question_id: null,
      roles: [{
        id: this.guildId, name: '@everyone', color: 0, colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
        hoist: false, icon: null, unicode_emoji: null, position: 0, permissions: '2248473465835073', managed: false, mentionable: false, flags: 0,
      }],
      // GUILD_CREATE extras:
      joined_at: joinedAt, large: false, unavailable: false, member_count: 2, lazy: true,
      members: [{ user: clone(this.botUser), roles: [], joined_at: joinedAt, deaf: false, mute: false, flags: 0, pending: false, nick: null, avatar: null, premium_since: null, communication_disabled_until: null }],
      channels: [this.textChannel()], threads: [], presences: [], voice_states: [], stage_instances: [],
      guild_scheduled_events: [], soundboard_sounds: [], embedded_activities: [],
    };
  }

  private send(session: GatewaySession, payload: any): void {
    if (session.ws.readyState === session.ws.OPEN) session.ws.send(JSON.stringify(payload));
  }

  private async waitForSession(guildId?: string, timeoutMs = 5000): Promise<void> {
    await this.waitFor(
      () => [...this.sessions].some((s) => s.identified && s.ws.readyState === s.ws.OPEN && this.onShard(s, guildId)),
      timeoutMs,
      () => 'identified gateway session (did the bot log in?)',
    );
  }

  /** Shards Discord recommends in `GET /gateway/bot`: about one per 1,000 servers. */
  get recommendedShards(): number {
    return Math.max(1, Math.ceil(this.guildCount / 1000));
  }

  /** The fewest shards Discord accepts: sharding is required from 2,500 servers per shard. */
  get requiredShards(): number {
    return Math.floor(this.guildCount / 2500) + 1;
  }

  /** Whether events of `guildId` (none: DMs) go to this session's shard. */
  private onShard(session: GatewaySession, guildId?: string): boolean {
    const [id, count] = session.shard;
    const target = guildId ? Number((BigInt(guildId) >> 22n) % BigInt(count)) : 0;
    return target === id;
  }

  // ---------------------------------------------------------------- interaction payloads

  /** The channel an interaction of `place` happens in. */
  private channelFor(place: InteractionPlace, userId: string): string {
    switch (place) {
      case 'guild': return this.channelId;
      case 'guild-user-install': return this.foreignChannelId;
      case 'bot-dm': return this.dmChannel(userId).id;
      case 'group-dm': return this.groupDmId;
    }
  }

  /** Where a stored message is, as an interaction place (for components on it). */
  private placeOf(channelId: string): InteractionPlace {
    if (channelId === this.foreignChannelId) return 'guild-user-install';
    if (channelId === this.groupDmId) return 'group-dm';
    return this.dmChannels.has(channelId) ? 'bot-dm' : 'guild';
  }

  /** The server a channel belongs to (none for DMs and group DMs). */
  private guildOf(channelId: string): string | undefined {
    if (channelId === this.foreignChannelId) return this.foreignGuildId;
    if (channelId === this.groupDmId || this.dmChannels.has(channelId)) return undefined;
    return this.guildId;
  }

  private async dispatchInteraction(type: number, data: any, opts: { user?: FakeUserObject; place: InteractionPlace; attachmentSizeLimit?: number; message?: FakeMessage; memberPermissions?: string }): Promise<FakeInteraction> {
    const { place } = opts;
    const channelId = this.channelFor(place, (opts.user ?? this.defaultUser).id);
    await this.waitForSession(this.guildOf(channelId));
    const user = opts.user ?? this.defaultUser;
    const id = this.snowflake();
    const payload: any = {
      id, application_id: this.appId, type, token: `aW50ZXJhY3Rpb246${Buffer.from(`${id}:${randomBytes(48).toString('base64url')}`).toString('base64url')}`, version: 1, data,
      locale: 'en-US', entitlements: [], attachment_size_limit: opts.attachmentSizeLimit ?? this.attachmentSizeLimit,
    };
    const member = () => ({
      user: clone(user), roles: [], permissions: opts.memberPermissions ?? ALL_PERMISSIONS, joined_at: new Date(Date.now() - 86_400_000).toISOString(), nick: null,
      avatar: null, premium_since: null, deaf: false, mute: false, flags: 0, pending: false, communication_disabled_until: null, unusual_dm_activity_until: null,
    });
    // `app_permissions` and `authorizing_integration_owners` as Discord documents them for each place.
    switch (place) {
      case 'guild':
        Object.assign(payload, {
          guild_id: this.guildId, guild_locale: 'en-US', guild: { id: this.guildId, locale: 'en-US', features: [] },
          channel_id: this.channelId, channel: { ...this.textChannel(), permissions: ALL_PERMISSIONS }, member: member(),
          app_permissions: String(this.botPermissionsIn(this.channelId)), authorizing_integration_owners: { '0': this.guildId }, context: 0,
        });
        break;
      case 'guild-user-install':
        // No bot in that server: the app gets @everyone's permissions plus files and links, and cannot post there itself.
        Object.assign(payload, {
          guild_id: this.foreignGuildId, guild_locale: 'en-US', guild: { id: this.foreignGuildId, locale: 'en-US', features: [] },
          channel_id: this.foreignChannelId, channel: { ...this.textChannel(), id: this.foreignChannelId, guild_id: this.foreignGuildId, name: 'elsewhere', permissions: ALL_PERMISSIONS },
          member: member(), app_permissions: String(EVERYONE_PERMISSIONS | PERM.ATTACH_FILES | PERM.EMBED_LINKS),
          authorizing_integration_owners: { '1': user.id }, context: 0,
        });
        break;
      case 'bot-dm': {
        const channel = this.dmChannel(user.id);
        Object.assign(payload, {
          user: clone(user), channel_id: channel.id, channel, app_permissions: String(PERM.VIEW_CHANNEL | PERM.SEND_MESSAGES | PERM.EMBED_LINKS | PERM.ATTACH_FILES | PERM.MENTION_EVERYONE | (1n << 18n)),
          // Documented: the GUILD_INSTALL owner is "0" in the bot's DMs.
          authorizing_integration_owners: { '0': '0' }, context: 1,
        });
        break;
      }
      case 'group-dm':
        Object.assign(payload, {
          user: clone(user), channel_id: this.groupDmId, channel: { id: this.groupDmId, type: 3, name: null, icon: null, owner_id: user.id, last_message_id: null, flags: 0, recipients: [clone(user)] },
          app_permissions: String(PERM.ATTACH_FILES | PERM.EMBED_LINKS | PERM.MENTION_EVERYONE), authorizing_integration_owners: { '1': user.id }, context: 2,
        });
        break;
    }
    if (opts.message) payload.message = clone(opts.message.json);
    const interaction = new FakeInteraction(payload, Date.now(), this, opts.message?.id);
    this.interactions.set(id, interaction);
    this.byToken.set(payload.token, interaction);
    this.dispatch('INTERACTION_CREATE', clone(payload));
    return interaction;
  }

  private async componentInteraction(data: any, message: FakeMessage | any, user?: FakeUserObject): Promise<FakeInteraction> {
    const id = message instanceof FakeMessage ? message.id : message?.id;
    const record = this.store.get(id);
    if (!record) throw new Error(`FakeDiscord: component interaction on unknown message ${id}`);
    if (record.deleted) throw new Error(`FakeDiscord: component interaction on deleted message ${id}`);
    return this.dispatchInteraction(3, data, { user, place: this.placeOf(record.channelId), message: record });
  }

  private registeredCommand(name: string, type: number): any {
    const all = [...(this.commands.guild.get(this.guildId) ?? []), ...this.commands.global];
    return all.find((c) => c.name === name && (c.type ?? 1) === type);
  }

  private interactionMetadata(interaction: FakeInteraction, extra: Record<string, any> = {}): any {
    const p = interaction.payload;
    const meta: any = { id: p.id, type: p.type, user: clone(p.member?.user ?? p.user), authorizing_integration_owners: clone(p.authorizing_integration_owners), ...extra };
    if (p.type === 2) Object.assign(meta, { name: p.data.name, command_type: p.data.type, ...(p.data.target_id ? { target_message_id: p.data.target_id } : {}) });
    if (p.type === 3 && interaction.targetMessageId) meta.interacted_message_id = interaction.targetMessageId;
    return meta;
  }

  // ---------------------------------------------------------------- messages

  private snowflake(): string {
    const fromClock = (BigInt(Date.now()) - DISCORD_EPOCH) << 22n;
    this.lastId = fromClock > this.lastId ? fromClock : this.lastId + 1n;
    return this.lastId.toString();
  }

  private messageJson(m: { id?: string; channelId: string; author: FakeUserObject; content: string; type: number; embeds?: any[]; attachments?: any[]; components?: any[]; flags?: number; extra?: Record<string, any> }): any {
    const guildId = this.guildOf(m.channelId);
    return {
      id: m.id ?? this.snowflake(), type: m.type, channel_id: m.channelId, ...(guildId ? { guild_id: guildId } : {}),
      author: clone(m.author), content: m.content, timestamp: new Date().toISOString(), edited_timestamp: null, tts: false,
      mention_everyone: false, mentions: [], mention_roles: [], attachments: m.attachments ?? [], embeds: m.embeds ?? [],
      components: m.components ?? [], pinned: false, flags: m.flags ?? 0, ...m.extra,
    };
  }

  /** Creates a bot message from a create-message body (+ uploads); validates like Discord. */
  private async createMessage(channelId: string, body: any, files: UploadedFile[], o: { type?: number; allowedFlags: number; extra?: Record<string, any>; interactionId?: string; loading?: boolean }): Promise<FakeMessage> {
    body ??= {};
    const flags = (Number(body.flags ?? 0) & o.allowedFlags) | (o.loading ? LOADING : 0);
    this.validateContent(body);
    const attachments = await this.uploadAttachments(channelId, body, files, []);
    const embeds = (body.embeds ?? []).map((e: any) => ({ type: 'rich', ...e }));
    const components = clone(body.components ?? []);
    if (!o.loading && !body.content && !embeds.length && !attachments.length && !components.length && !body.sticker_ids?.length && !body.poll) throw emptyMessage();
    const extra: Record<string, any> = { ...o.extra };
    if (body.nonce !== undefined) extra.nonce = body.nonce;
    const guildId = this.guildOf(channelId);
    if (body.message_reference?.message_id) extra.message_reference = { type: 0, channel_id: channelId, ...(guildId ? { guild_id: guildId } : {}), ...body.message_reference };
    const json = this.messageJson({ channelId, author: this.botUser, content: o.loading ? '' : String(body.content ?? ''), type: extra.message_reference && o.type === 0 ? 19 : o.type ?? 0, embeds, attachments, components, flags, extra });
    const record = new FakeMessage(json, o.interactionId);
    this.setAttachments(record, attachments);
    this.store.set(record.id, record);
    return record;
  }

  /** Applies an edit body (PATCH, or callback type 7) to a message, Discord-style. */
  private async editMessage(record: FakeMessage, body: any, files: UploadedFile[]): Promise<FakeMessage> {
    body ??= {};
    if (record.deleted) throw unknownMessage();
    this.validateContent(body);
    const json = record.json;
    const kept = Array.isArray(body.attachments)
      ? json.attachments.filter((a: any) => body.attachments.some((b: any) => String(b.id) === a.id))
      : json.attachments;
    const attachments = await this.uploadAttachments(record.channelId, body, files, kept);
    const next = { ...json };
    if ('content' in body) next.content = body.content == null ? '' : String(body.content);
    if ('embeds' in body) next.embeds = (body.embeds ?? []).map((e: any) => ({ type: 'rich', ...e }));
    if ('components' in body) next.components = clone(body.components ?? []);
    next.attachments = attachments;
    let flags = json.flags & ~LOADING; // any edit ends the "thinking…" state
    if ('flags' in body && body.flags != null) flags = (flags & ~SUPPRESS_EMBEDS) | (Number(body.flags) & (SUPPRESS_EMBEDS | COMPONENTS_V2));
    next.flags = flags;
    if (!next.content && !next.embeds.length && !next.attachments.length && !next.components.length) throw emptyMessage();
    next.edited_timestamp = new Date().toISOString();
    record.json = next;
    record.edits++;
    record.history.push(next.content);
    this.setAttachments(record, attachments);
    return record;
  }

  private validateContent(body: any): void {
    if (body.content != null && String(body.content).length > 2000) throw invalidForm(['content'], 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
    if (Array.isArray(body.embeds) && body.embeds.length > 10) throw invalidForm(['embeds'], 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
    if (Array.isArray(body.components) && body.components.length > 40) throw invalidForm(['components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 40 or fewer in length.');
  }

  /** `kept` existing attachments + one new attachment per uploaded file (`files[N]` ↔ `attachments[].id == N`). */
  private async uploadAttachments(channelId: string, body: any, files: UploadedFile[], kept: any[]): Promise<any[]> {
    const result = clone(kept);
    for (const file of files) {
      if (file.data.length > this.attachmentSizeLimit) throw new ApiError(413, 40005, 'Request entity too large');
      const index = /^files\[(\d+)\]$/.exec(file.field)?.[1] ?? /^file(\d*)$/.exec(file.field)?.[1];
      const described = Array.isArray(body.attachments) ? body.attachments.find((a: any) => String(a.id) === index) : undefined;
      const filename = String(described?.filename ?? file.filename).replace(/\s+/g, '_');
      const contentType = file.contentType && file.contentType !== 'application/octet-stream' ? file.contentType : MIME[extOf(filename)] ?? 'application/octet-stream';
      result.push(await this.storeCdnFile(channelId, filename, file.data, contentType, described?.description));
    }
    return result;
  }

  private setAttachments(record: FakeMessage, attachments: any[]): void {
    record.files = attachments.map((a) => this.cdnFileOf(a)).filter((f): f is StoredFile => Boolean(f));
  }

  private cdnFileOf(attachment: any): StoredFile | undefined {
    const file = this.cdn.get(attachment?.id);
    return file ? { filename: file.filename, contentType: file.contentType, data: file.data } : undefined;
  }

  private async storeCdnFile(channelId: string, filename: string, data: Buffer, contentType: string, description?: string, ttlMs = 86_400_000): Promise<any> {
    const id = this.snowflake();
    const issued = Math.floor(Date.now() / 1000);
    const expires = issued + Math.ceil(ttlMs / 1000);
    const ex = expires.toString(16);
    const is = issued.toString(16);
    const signature = createHash('sha256').update(`${id}:${ex}:${is}`).digest('hex');
    this.cdn.set(id, { id, channelId, filename, contentType, data, signature, downloads: 0, expiresAt: expires * 1000 });
    const query = `?ex=${ex}&is=${is}&hm=${signature}&`;
    const path = `/attachments/${channelId}/${id}/${encodeURIComponent(filename)}`;
    return {
      id, filename, size: data.length, url: `${this.cdnOrigin}${path}${query}`, proxy_url: `${this.cdnOrigin}/media-proxy${path}${query}`,
      content_type: contentType, ...(await imageSize(data, contentType)), ...(description ? { description } : {}),
      // Discord marks a file uploaded as `SPOILER_…` with the IS_SPOILER flag (blurred until clicked).
      ...(filename.startsWith('SPOILER_') ? { flags: ATTACHMENT_SPOILER } : {}),
    };
  }

  // ---------------------------------------------------------------- REST routes

  private createRoutes(): Route[] {
    const route = (method: string, template: string, handler: Route['handler'], auth = true): Route => {
      const pattern = new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/:(\w+)/g, '(?<$1>[^/]+)')}$`);
      return { method, template, pattern, auth, handler };
    };
    const channelOf = (id: string) => {
      if (id === this.channelId) return this.textChannel();
      // A server the bot is not in, or a group DM it is not a recipient of: the app's user install works there, its bot does not.
      if (id === this.foreignChannelId || id === this.groupDmId) throw new ApiError(403, 50001, 'Missing Access');
      const dm = this.dmChannels.get(id);
      if (!dm) throw new ApiError(404, 10003, 'Unknown Channel');
      return clone(dm);
    };
    const channelMessage = (channelId: string, messageId: string) => {
      channelOf(channelId);
      const m = this.store.get(messageId);
      if (!m || m.deleted || m.channelId !== channelId) throw unknownMessage();
      return m;
    };
    return [
      route('GET', '/gateway', () => ({ url: this.gatewayUrl }), false),
      route('GET', '/gateway/bot', () => ({
        url: this.gatewayUrl, shards: this.recommendedShards,
        session_start_limit: { total: 1000, remaining: 1000 - this.identifies.length, reset_after: 86_400_000, max_concurrency: this.maxConcurrency },
      })),
      route('POST', '/interactions/:id/:token/callback', (c) => this.interactionCallback(c), false),
      route('GET', '/webhooks/:app/:token/messages/:message', (c) => clone(this.webhookMessage(c).json), false),
      route('PATCH', '/webhooks/:app/:token/messages/:message', async (c) => clone((await this.editMessage(this.webhookMessage(c), c.body, c.files)).json), false),
      route('DELETE', '/webhooks/:app/:token/messages/:message', (c) => {
        const m = this.webhookMessage(c);
        m.deleted = true;
        return NO_CONTENT;
      }, false),
      route('POST', '/webhooks/:app/:token', (c) => this.followUp(c), false),
      route('GET', '/applications/:app/commands', (c) => clone(this.commandsFor(c.params.app))),
      route('PUT', '/applications/:app/commands', (c) => this.putCommands(c.params.app, undefined, c.body)),
      route('GET', '/applications/:app/guilds/:guild/commands', (c) => clone(this.commandsFor(c.params.app, c.params.guild))),
      route('PUT', '/applications/:app/guilds/:guild/commands', (c) => this.putCommands(c.params.app, c.params.guild, c.body)),
      route('GET', '/channels/:channel', (c) => channelOf(c.params.channel)),
      route('POST', '/channels/:channel/messages', async (c) => {
        const channelId = c.params.channel;
        const channel = channelOf(channelId);
        if (this.failingChannels.has(channelId)) throw new ApiError(403, 50001, 'Missing Access');
        if (channel.type === 1 && this.closedDms.has(channel.recipients[0].id)) throw new ApiError(403, 50007, 'Cannot send messages to this user');
        if (channel.guild_id) {
          const permissions = this.botPermissionsIn(channelId);
          if (!(permissions & PERM.VIEW_CHANNEL)) throw new ApiError(403, 50001, 'Missing Access');
          if (!(permissions & PERM.SEND_MESSAGES) || (c.files.length && !(permissions & PERM.ATTACH_FILES))) throw new ApiError(403, 50013, 'Missing Permissions');
        }
        const m = await this.createMessage(channelId, c.body, c.files, { type: 0, allowedFlags: SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | COMPONENTS_V2 });
        return clone(m.json);
      }),
      route('GET', '/channels/:channel/messages/:message', (c) => clone(channelMessage(c.params.channel, c.params.message).json)),
      route('PATCH', '/channels/:channel/messages/:message', async (c) => {
        const m = channelMessage(c.params.channel, c.params.message);
        if (m.json.author.id !== this.botUserId) throw new ApiError(403, 50005, 'Cannot edit a message authored by another user');
        return clone((await this.editMessage(m, c.body, c.files)).json);
      }),
      route('DELETE', '/channels/:channel/messages/:message', (c) => {
        channelMessage(c.params.channel, c.params.message).deleted = true;
        return NO_CONTENT;
      }),
      route('POST', '/users/@me/channels', (c) => {
        const recipient = String(c.body?.recipient_id ?? '');
        if (!this.users.has(recipient)) throw invalidForm(['recipient_id'], 'NUMBER_TYPE_COERCE', `Value "${recipient}" is not snowflake.`);
        return this.dmChannel(recipient);
      }),
      route('GET', '/users/@me', () => clone(this.botUser)),
      route('GET', '/users/:user', (c) => {
        const user = this.users.get(c.params.user);
        if (!user) throw new ApiError(404, 10013, 'Unknown User');
        return clone(user);
      }),
    ];
  }

  private async interactionCallback(c: RouteContext): Promise<unknown> {
    const interaction = this.interactions.get(c.params.id);
    if (!interaction || interaction.token !== c.params.token || interaction.tokenExpired || interaction.expired) throw unknownInteraction();
    if (interaction.callbacks.length) throw new ApiError(400, 40060, 'Interaction has already been acknowledged.');
    const type = Number(c.body?.type);
    const data = c.body?.data;
    const p = interaction.payload;
    const messageType = interaction.isComponent ? 0 : p.data.type === 1 ? 20 : 23;
    const channelId = p.channel_id;
    const webhookFields = () => ({ webhook_id: this.appId, application_id: this.appId, interaction_metadata: this.interactionMetadata(interaction) });
    let message: FakeMessage | undefined;
    switch (type) {
      case 4: // CHANNEL_MESSAGE_WITH_SOURCE
        message = await this.createMessage(channelId, data, c.files, { type: messageType, allowedFlags: EPHEMERAL | SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | COMPONENTS_V2, extra: webhookFields(), interactionId: interaction.id });
        interaction.originalId = message.id;
        break;
      case 5: // DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: a "thinking…" placeholder
        message = await this.createMessage(channelId, { flags: data?.flags }, [], { type: messageType, allowedFlags: EPHEMERAL, extra: webhookFields(), interactionId: interaction.id, loading: true });
        interaction.originalId = message.id;
        break;
      case 6: // DEFERRED_UPDATE_MESSAGE
      case 7: // UPDATE_MESSAGE
        if (!interaction.isComponent) throw invalidForm(['type'], 'INTERACTION_RESPONSE_TYPE_INVALID', 'Interaction response type is invalid for this interaction.');
        message = this.store.get(interaction.targetMessageId!);
        if (type === 7 && message) await this.editMessage(message, data, c.files);
        break;
      case 8: case 9: case 12: // autocomplete result, modal, launch activity: recorded only
        break;
      default:
        throw invalidForm(['type'], 'BASE_TYPE_CHOICES', `Value must be one of {4, 5, 6, 7, 8, 9, 12}.`);
    }
    const at = Date.now();
    interaction.callbacks.push({ type, data: clone(data), at, ms: at - interaction.dispatchedAt, files: c.files });
    if (c.query.get('with_response') !== 'true') return NO_CONTENT;
    return {
      interaction: {
        id: interaction.id, type: p.type, response_message_id: message?.id, response_message_loading: type === 5,
        response_message_ephemeral: message ? message.ephemeral : false,
      },
      resource: { type, ...(message && type !== 6 ? { message: clone(message.json) } : {}) },
    };
  }

  /** The interaction behind a webhook route (`/webhooks/:app/:token/...`), checking the token like Discord. */
  private webhookInteraction(c: RouteContext): FakeInteraction {
    const interaction = this.byToken.get(c.params.token);
    if (!interaction || c.params.app !== this.appId) throw unknownWebhook();
    if (interaction.tokenExpired) throw new ApiError(401, 50027, 'Invalid Webhook Token');
    return interaction;
  }

  private webhookMessage(c: RouteContext): FakeMessage {
    const interaction = this.webhookInteraction(c);
    const id = c.params.message;
    const message = id === '@original' ? interaction.original() : this.store.get(id);
    const owned = message && (message === interaction.original() || interaction.followups.includes(message) || message.interactionId === interaction.id);
    if (!message || !owned || message.deleted) throw unknownMessage();
    return message;
  }

  private async followUp(c: RouteContext): Promise<unknown> {
    const interaction = this.webhookInteraction(c);
    if (!interaction.callbacks.length) throw unknownWebhook(); // follow-ups need an initial response first
    // Discord (Create Followup Message): right after a DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, a follow-up
    // works as Edit Original Interaction Response: the loading message is edited, no message is created,
    // and the ephemeral flag is ignored (the defer's stays). With that message deleted there is nothing
    // to edit: 10008 Unknown Message.
    const original = interaction.original();
    if (interaction.callbacks[0].type === 5 && original?.loading) {
      if (original.deleted) throw unknownMessage();
      const { flags: _ignored, ...body } = c.body ?? {};
      interaction.followupEdits++;
      return clone((await this.editMessage(original, body, c.files)).json);
    }
    const p = interaction.payload;
    const type = interaction.isComponent ? 0 : p.data.type === 1 ? 20 : 23;
    const extra = { webhook_id: this.appId, application_id: this.appId, interaction_metadata: this.interactionMetadata(interaction, interaction.originalId ? { original_response_message_id: interaction.originalId } : {}) };
    const message = await this.createMessage(p.channel_id, c.body, c.files, { type, allowedFlags: EPHEMERAL | SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | COMPONENTS_V2, extra, interactionId: interaction.id });
    interaction.followups.push(message);
    return clone(message.json);
  }

  private commandsFor(appId: string, guildId?: string): any[] {
    if (appId !== this.appId) throw new ApiError(403, 50001, 'Missing Access');
    if (guildId === undefined) return this.commands.global;
    if (guildId !== this.guildId) throw new ApiError(403, 50001, 'Missing Access');
    return this.commands.guild.get(guildId) ?? [];
  }

  private putCommands(appId: string, guildId: string | undefined, body: any): any[] {
    const previous = this.commandsFor(appId, guildId);
    if (!Array.isArray(body)) throw invalidForm([], 'ARRAY_TYPE_CONVERT', 'Only iterables may be used in a ListType');
    const names = new Set<string>();
    const stored = body.map((command: any, i: number) => {
      const type = command.type ?? 1;
      if (![1, 2, 3, 4].includes(type)) throw invalidForm([i, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4}.');
      const name = String(command.name ?? '');
      if (name.length < 1 || name.length > 32) throw invalidForm([i, 'name'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 32 in length.');
      if (type === 1) {
        if (!/^[-_\p{L}\p{N}]{1,32}$/u.test(name) || name !== name.toLowerCase()) throw invalidForm([i, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
        this.validateDescription(command.description, [i, 'description']);
        this.validateOptions(command.options ?? [], [i, 'options']);
      } else if (command.description) {
        throw invalidForm([i, 'description'], 'APPLICATION_COMMAND_DESCRIPTION_MUST_BE_EMPTY', 'Description must be empty.');
      }
      const key = `${type}:${name}`;
      if (names.has(key)) throw new ApiError(400, 50035, 'Invalid Form Body', { _errors: [{ code: 'APPLICATION_COMMANDS_DUPLICATE_NAME', message: `Application command names must be unique` }] });
      names.add(key);
      const old = previous.find((p) => p.name === name && (p.type ?? 1) === type);
      return {
        ...clone(command), id: old?.id ?? this.snowflake(), application_id: this.appId, version: this.snowflake(), type,
        description: command.description ?? '', default_member_permissions: command.default_member_permissions ?? null, nsfw: command.nsfw ?? false,
        ...(guildId ? { guild_id: guildId } : {}),
      };
    });
    if (guildId) this.commands.guild.set(guildId, stored);
    else this.commands.global = stored;
    return clone(stored);
  }

  private validateDescription(description: unknown, path: (string | number)[]): void {
    const length = typeof description === 'string' ? description.length : 0;
    if (length < 1 || length > 100) throw invalidForm(path, 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
  }

  private validateOptions(options: any[], path: (string | number)[]): void {
    if (options.length > 25) throw invalidForm(path, 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
    options.forEach((option, i) => {
      const name = String(option.name ?? '');
      if (!/^[-_\p{L}\p{N}]{1,32}$/u.test(name) || name !== name.toLowerCase()) throw invalidForm([...path, i, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
      this.validateDescription(option.description, [...path, i, 'description']);
      if ((option.choices?.length ?? 0) > 25) throw invalidForm([...path, i, 'choices'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
      if (option.options) this.validateOptions(option.options, [...path, i, 'options']);
    });
  }

  // ---------------------------------------------------------------- HTTP layer

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.cdnOrigin);
    if (url.pathname === '/api' || url.pathname.startsWith('/api/')) return this.handleRest(req, res, url);
    return this.handleCdn(req, res, url);
  }

  private handleCdn(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const gone = () => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('This content is no longer available.');
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain' });
      return void res.end('Method Not Allowed');
    }
    const attachment = /^(?:\/media-proxy)?\/attachments\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    let body: Buffer;
    let contentType: string;
    if (attachment) {
      const file = this.cdn.get(attachment[2]);
      // Like Discord's CDN since 2024: an attachment URL without its signature is refused.
      if (!file || file.channelId !== attachment[1] || url.searchParams.get('hm') !== file.signature) return gone();
      // Past its `ex` (or removed): Discord's CDN answers 404 like for a file that never existed.
      if (Date.now() >= file.expiresAt) return gone();
      if (req.method === 'GET') file.downloads++;
      ({ data: body, contentType } = file);
    } else {
      const raw = this.raw.get(url.pathname);
      if (!raw) return gone();
      if (req.method === 'GET') raw.downloads++;
      ({ body, contentType } = raw);
    }
    res.writeHead(200, { 'content-type': contentType, 'content-length': body.length, 'cache-control': 'public, max-age=31536000' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private async handleRest(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const at = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const versioned = /^\/api\/v(\d+)(\/.*)$/.exec(url.pathname);
    const path = versioned?.[2] ?? url.pathname.slice('/api'.length);
    const rec: RecordedRequest = { method, path, route: `${method} ${path}`, query: Object.fromEntries(url.searchParams), files: [], status: 0, matched: false, at };
    const raw = await readBody(req);
    try {
      await this.parseBody(req, raw, rec);
      let match: { route: Route; params: Record<string, string> } | undefined;
      if (versioned?.[1] === '10') {
        for (const route of this.routes) {
          const m = route.method === method ? route.pattern.exec(path) : null;
          if (m) {
            match = { route, params: Object.fromEntries(Object.entries(m.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)])) };
            break;
          }
        }
      }
      if (match) {
        rec.matched = true;
        rec.route = `${method} ${match.route.template.replace(':message', match.params.message === '@original' ? '@original' : ':message')}`;
      }
      if (match?.route.auth !== false && req.headers.authorization !== `Bot ${this.token}`) throw new ApiError(401, 0, '401: Unauthorized');
      const fault = this.takeFault(rec);
      if (fault) return this.answerFault(res, rec, fault);
      if (!match) throw notFound();
      const result = await match.route.handler({ params: match.params, query: url.searchParams, body: rec.body, files: rec.files });
      if (result === NO_CONTENT) {
        rec.status = 204;
        res.writeHead(204); // no body and no content-type, as @discordjs/rest parses JSON by content-type
        res.end();
      } else this.sendJson(res, rec, 200, result);
    } catch (err) {
      if (err instanceof ApiError) {
        this.sendJson(res, rec, err.status, { message: err.message, code: err.code, ...(err.errors ? { errors: err.errors } : {}) });
      } else {
        // A bug in the fake: answered like a Discord outage (which @discordjs/rest retries), and kept for the test to see.
        rec.error = err instanceof Error ? err.stack ?? err.message : String(err);
        this.sendJson(res, rec, 500, { message: `500: Internal Server Error (FakeDiscord: ${String(err)})`, code: 0 });
      }
    } finally {
      if (rec.status) {
        this.requests.push(rec);
        this.notify();
      }
    }
  }

  private async parseBody(req: IncomingMessage, raw: Buffer, rec: RecordedRequest): Promise<void> {
    const contentType = req.headers['content-type'] ?? '';
    if (raw.length === 0) return;
    if (contentType.includes('application/json')) {
      try {
        rec.json = rec.body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new ApiError(400, 50109, 'The request body contains invalid JSON.');
      }
    } else if (contentType.includes('multipart/form-data')) {
      const form = await new Response(raw, { headers: { 'content-type': contentType } }).formData().catch(() => {
        throw new ApiError(400, 50035, 'Invalid Form Body');
      });
      const fields: Record<string, string> = {};
      for (const [field, value] of form.entries()) {
        if (typeof value === 'string') fields[field] = value;
        else rec.files.push({ field, filename: value.name, contentType: value.type || 'application/octet-stream', data: Buffer.from(await value.arrayBuffer()) });
      }
      if (fields.payload_json !== undefined) {
        try {
          rec.payload = rec.body = JSON.parse(fields.payload_json);
        } catch {
          throw invalidForm(['payload_json'], 'JSON_TYPE_CONVERT', 'Could not interpret payload_json as JSON.');
        }
      } else if (Object.keys(fields).length) rec.body = fields;
    }
  }

  private takeFault(rec: RecordedRequest): Fault | undefined {
    const index = this.faults.findIndex(({ match }) => match.test(`${rec.method} ${rec.path}`) || match.test(rec.route));
    return index === -1 ? undefined : this.faults.splice(index, 1)[0].fault;
  }

  private answerFault(res: ServerResponse, rec: RecordedRequest, fault: Fault): void {
    if (fault.status === 429 && 'retryAfter' in fault) {
      const retryAfter = fault.retryAfter;
      const body = { message: 'You are being rate limited.', retry_after: retryAfter, global: Boolean(fault.global) };
      const text = JSON.stringify(body);
      rec.status = 429;
      rec.response = body;
      // The headers @discordjs/rest reads to wait out the limit before retrying the same request.
      res.writeHead(429, {
        'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'retry-after': String(retryAfter),
        'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String((Date.now() / 1000 + retryAfter).toFixed(3)),
        'x-ratelimit-reset-after': String(retryAfter), 'x-ratelimit-bucket': hex(16), 'x-ratelimit-scope': fault.global ? 'global' : 'user',
        ...(fault.global ? { 'x-ratelimit-global': 'true' } : {}),
      });
      return void res.end(text);
    }
    if ('code' in fault) return this.sendJson(res, rec, fault.status, { message: fault.message, code: fault.code });
    this.sendJson(res, rec, fault.status, { message: `${fault.status}: Internal Server Error`, code: 0 });
  }

  private sendJson(res: ServerResponse, rec: RecordedRequest, status: number, body: unknown): void {
    rec.status = status;
    rec.response = body;
    if (res.writableEnded || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** Re-checks waiters after a state change. */
  private notify(): void {
    for (const waiter of [...this.waiters]) {
      let value: unknown;
      try {
        value = waiter.check();
      } catch (err) {
        value = undefined;
        clearTimeout(waiter.timer);
        this.waiters.delete(waiter);
        waiter.reject(err as Error);
        continue;
      }
      if (!value) continue;
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
      waiter.resolve(value);
    }
  }
}
