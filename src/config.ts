/**
 * The one place that reads settings. `.env` (dotenv) is loaded once, every variable is validated with
 * zod into a typed, frozen object. Each variable's JSDoc below is its documentation: `npm run docs`
 * writes `.env.example` from it, the schema's defaults and CONFIG_SECTIONS (a test checks it is current).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { config as loadDotenv } from 'dotenv';
import { z } from 'zod';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes' || v === 'on');

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const num = (min: number, max: number) => z.coerce.number().min(min).max(max);

/** Bytes in a megabyte (MiB): every `_MB` setting counts in these. */
export const MB = 1024 * 1024;
/** A `_MB` setting in bytes. */
export const mbToBytes = (mb: number) => Math.round(mb * MB);
/** A `_S` setting in milliseconds. */
export const sToMs = (s: number) => Math.round(s * 1000);

/**
 * Settings renamed so that each name carries its unit (`_MB`, `_S`). An old name still works, read
 * in its old unit and converted, with a warning that says the new name; the new name wins if both are set.
 */
export const RENAMED_SETTINGS: Readonly<Record<string, { name: string; unit: string; convert: (old: number) => number }>> = {
  ANIMEFY_MAX_INPUT_BYTES: { name: 'ANIMEFY_MAX_INPUT_MB', unit: 'MB', convert: (bytes) => bytes / MB },
  ANIMEFY_MAX_VIDEO_SECONDS: { name: 'ANIMEFY_MAX_VIDEO_S', unit: 's', convert: (s) => s },
  ANIMEFY_CANCEL_GRACE_MS: { name: 'ANIMEFY_CANCEL_GRACE_S', unit: 's', convert: (ms) => ms / 1000 },
  ANIMEFY_REDIS_MAX_BLOB_BYTES: { name: 'ANIMEFY_REDIS_MAX_BLOB_MB', unit: 'MB', convert: (bytes) => bytes / MB },
  ANIMEFY_REDIS_BACKOFF_MS: { name: 'ANIMEFY_REDIS_BACKOFF_S', unit: 's', convert: (ms) => ms / 1000 },
  ANIMEFY_REDIS_LOCK_MS: { name: 'ANIMEFY_REDIS_LOCK_S', unit: 's', convert: (ms) => ms / 1000 },
};

/** Settings no longer read, with what took their place (a warning says so when one is set). */
export const RETIRED_SETTINGS: Readonly<Record<string, string>> = {
  ANIMEFY_MAX_VIDEO_PIXELS:
    'big GIFs and videos are now scaled down instead of refused; ANIMEFY_MAX_DECODE_MEGAPIXEL_FRAMES limits the decoding work',
};

/** A Discord id (snowflake). */
const snowflake = z.string().regex(/^\d{15,21}$/, 'expected a Discord id (digits)');

const executionProviders = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(['cpu', 'cuda', 'dml', 'coreml', 'webgpu'])).min(1));

/** Relative paths (the directories) are resolved against REPO_ROOT by parseConfig. */
const schema = z.object({
  /** Where model weights live (git-ignored; `npm run models` fills it). */
  ANIMEFY_MODELS_DIR: z.string().default('models'),
  /**
   * A directory that already holds the weights; `npm run models` copies from it before trying the
   * manifest's download URLs. Unset: `../shared/models` beside the repo is used when it exists.
   */
  ANIMEFY_MODEL_MIRROR: z.string().optional(),
  /** Real photos, GIF and video used by the tests and `npm run bench`. */
  ANIMEFY_FIXTURES_DIR: z.string().default('../shared/fixtures'),
  /**
   * onnxruntime execution providers, in order of preference: `cpu`, or `cuda,cpu` on an NVIDIA GPU
   * (needs onnxruntime-node's CUDA binaries: install with ONNXRUNTIME_NODE_INSTALL=cuda12 and
   * network access; without them the bot logs a warning and runs on the CPU).
   */
  ANIMEFY_EXECUTION_PROVIDERS: executionProviders.default(['cpu']),
  /** Threads per model run; 0 = one per CPU core. */
  ANIMEFY_THREADS: int(0, 256).default(0),
  /**
   * onnxruntime's CPU memory arena: auto | on | off. The arena is 15–20% faster for models fed
   * bounded sizes (face crops, White-box tiles) but keeps a session's peak activation memory for
   * the life of the process (about 1 GB more RSS after a large picture with a scene model). `auto`
   * turns it on only for the models the manifest marks (`memArena`).
   */
  ANIMEFY_CPU_MEM_ARENA: z.enum(['auto', 'on', 'off']).default('auto'),
  /** Check each model file's sha256 the first time it is loaded in a process. */
  ANIMEFY_VERIFY_MODELS: bool.default(true),

  /** Largest accepted upload, in MB (fractions allowed). */
  ANIMEFY_MAX_INPUT_MB: num(0.001, 2048).default(50),
  /** Largest accepted picture in pixels (sharp's limitInputPixels; default: 40 MP). */
  ANIMEFY_MAX_INPUT_PIXELS: int(1, 1e9).default(40_000_000),
  /** Largest result in pixels; upscaling is capped to it. */
  ANIMEFY_MAX_OUTPUT_PIXELS: int(1, 1e9).default(40_000_000),
  /** The pipeline works at this long side at most; the result is resized back to the input size. */
  ANIMEFY_WORKING_SIZE: int(128, 8192).default(1280),
  /**
   * Generators run on pictures up to this many pixels in one piece; larger ones go in overlapping
   * tiles.
   */
  ANIMEFY_TILE_PIXELS: int(65_536, 64_000_000).default(1_700_000),
  /** In `fast` quality (the default) the scene model runs on at most this many pixels. */
  ANIMEFY_FAST_SCENE_PIXELS: int(65_536, 64_000_000).default(360_000),
  /**
   * Faces smaller than this (detector box, longest side in working pixels) skip the face model and
   * keep the scene model's rendering: the face model drew eyes on no fixture face under 35 px.
   */
  ANIMEFY_MIN_FACE_SIZE: int(8, 4096).default(40),
  /** Face detector score threshold (0.05–0.99). */
  ANIMEFY_FACE_THRESHOLD: z.coerce.number().min(0.05).max(0.99).default(0.6),

  /** GIF and video: longest accepted clip, in seconds. */
  ANIMEFY_MAX_VIDEO_S: int(1, 3600).default(15),
  /** GIF and animated WebP: most frames accepted. */
  ANIMEFY_MAX_GIF_FRAMES: int(1, 100_000).default(150),
  /**
   * GIF and video: most decoding work per clip, in megapixels × frames. Big pictures are scaled down
   * to ANIMEFY_VIDEO_WORKING_SIZE by the decoder, but every source frame is decoded at its full size
   * first. The default takes a 15 s 4K clip at 60 fps (8.3 MP × 900 frames ≈ 7500); past it a clip is
   * refused with a message saying how much of it would fit.
   */
  ANIMEFY_MAX_DECODE_MEGAPIXEL_FRAMES: int(1, 10_000_000).default(8000),
  /** GIF and video frames are stylized (and returned) at this long side at most, in pixels. */
  ANIMEFY_VIDEO_WORKING_SIZE: int(64, 4096).default(720),
  /** Faster videos are resampled to this frame rate (fewer frames to stylize). */
  ANIMEFY_MAX_VIDEO_FPS: int(1, 120).default(30),
  /**
   * Face crop resolution for GIF and video frames: 384 or 512 (the face model draws no eyes at
   * 256).
   */
  ANIMEFY_VIDEO_FACE_SIZE: z.coerce.number().pipe(z.union([z.literal(384), z.literal(512)])).default(384),
  /**
   * Frames in a row a moving face may reuse its last stylized crop (its expression then follows a
   * frame late; the face model runs about half as often). 0: the face model runs on every frame in
   * which a face moves (still faces always reuse).
   */
  ANIMEFY_VIDEO_FACE_REUSE: int(0, 8).default(1),
  /**
   * Temporal smoothing of GIF and video output (0 = off, 1 = strongest): still parts of the picture
   * keep their previous stylized pixels, so the style does not flicker from frame to frame.
   */
  ANIMEFY_TEMPORAL_SMOOTHING: z.coerce.number().min(0).max(1).default(0.8),
  /**
   * ffmpeg binary. Unset: `ffmpeg` on PATH when it runs (Debian's `apt-get install ffmpeg` is the
   * tested one), else the one the npm package @ffmpeg-installer/ffmpeg ships (an optional
   * dependency; a 2018 build). `npm run setup` prints which one is used.
   */
  FFMPEG_PATH: z.string().optional(),
  /**
   * ffprobe binary. Unset: an `ffprobe` next to FFMPEG_PATH, else `ffprobe` on PATH when it runs,
   * else the one from the npm package @ffprobe-installer/ffprobe.
   */
  FFPROBE_PATH: z.string().optional(),
  /**
   * Where GIF and video jobs keep their temporary files (default: the system temp directory);
   * removed after every job.
   */
  ANIMEFY_TEMP_DIR: z.string().optional(),

  /**
   * Jobs run at once, one worker process each (each keeps its own models loaded: about 1.3 GB). One
   * per CPU box or GPU is right for most machines.
   */
  ANIMEFY_CONCURRENCY: int(1, 64).default(1),
  /**
   * Jobs waiting at most; past it new jobs are refused with a polite "busy, try again in a few
   * minutes".
   */
  ANIMEFY_MAX_QUEUED: int(1, 100_000).default(100),
  /** Jobs one user may have queued or running at once. */
  ANIMEFY_MAX_JOBS_PER_USER: int(1, 1000).default(2),
  /** A picture job is stopped after this many seconds (its worker process is replaced). */
  ANIMEFY_IMAGE_TIMEOUT_S: int(1, 86_400).default(120),
  /** A GIF or video job is stopped after this many seconds. */
  ANIMEFY_VIDEO_TIMEOUT_S: int(1, 86_400).default(600),
  /**
   * A worker process whose resident memory passes this many MB is stopped and its job fails with
   * OUT_OF_MEMORY. 0: 80% of the machine's memory divided by ANIMEFY_CONCURRENCY (in a container
   * that is the host's memory: set it below the container's limit).
   */
  ANIMEFY_WORKER_MAX_RSS_MB: int(0, 1_048_576).default(0),
  /**
   * How long (seconds, fractions allowed) a cancelled running job may take to stop by itself before
   * its worker process is killed.
   */
  ANIMEFY_CANCEL_GRACE_S: num(0, 600).default(3),

  /**
   * redis://[user:password@]host:port[/db] or rediss://… With it, bots enqueue into BullMQ and `npm
   * run worker` processes (on any machine that reaches Redis) run the jobs.
   */
  ANIMEFY_REDIS_URL: z.string().regex(/^rediss?:\/\/\S+$/, 'expected redis://host:port or rediss://…').optional(),
  /** BullMQ queue name; also the Redis key prefix of the media blobs. */
  ANIMEFY_REDIS_QUEUE: z.string().regex(/^[\w.-]+$/).default('animefy'),
  /** Inputs and results travel through Redis as blobs that expire after this many seconds. */
  ANIMEFY_REDIS_BLOB_TTL_S: int(60, 7 * 86_400).default(3600),
  /** Largest media blob (input or result) stored in Redis, in MB. */
  ANIMEFY_REDIS_MAX_BLOB_MB: num(0.001, 512).default(64),
  /** Tries per job for transient failures (a crashed worker); bad input is never retried. */
  ANIMEFY_REDIS_ATTEMPTS: int(1, 20).default(3),
  /** First retry delay in seconds (fractions allowed); it doubles on each further try. */
  ANIMEFY_REDIS_BACKOFF_S: num(0, 3600).default(2),
  /**
   * A worker holds a job's lock this many seconds and renews it while the job runs; a job whose
   * worker died is picked up again after about this long.
   */
  ANIMEFY_REDIS_LOCK_S: num(1, 3600).default(30),

  /**
   * Serve /healthz and /metrics (Prometheus text) on this port (0: any free port, logged); unset:
   * no HTTP endpoint.
   */
  ANIMEFY_METRICS_PORT: int(0, 65_535).optional(),
  /** Address the metrics endpoint listens on (0.0.0.0 inside containers). */
  ANIMEFY_METRICS_HOST: z.string().default('127.0.0.1'),

  /**
   * Jobs one user may start per rate-limit window (both bots); past it they are told how long to
   * wait.
   */
  ANIMEFY_RATE_LIMIT_JOBS: int(1, 10_000).default(8),
  /** The rate-limit window in seconds. */
  ANIMEFY_RATE_LIMIT_WINDOW_S: int(1, 86_400).default(300),
  /**
   * On SIGTERM, running jobs get this many seconds to finish; the rest are cancelled with a
   * message.
   */
  ANIMEFY_SHUTDOWN_GRACE_S: int(0, 3600).default(20),
  /** Small state kept across restarts (each chat's default style), as a JSON file in this folder. */
  ANIMEFY_DATA_DIR: z.string().default('data'),
  /**
   * Hours a Discord result is kept when it arrived after the interaction expired and could be neither
   * posted in the channel nor sent as a DM (the bot may not post there, the user's DMs are closed); the
   * user gets it with /result or the reply's "Get my result" button. Kept in ANIMEFY_DATA_DIR/results,
   * deleted once fetched or after this long. 0: such a result is dropped.
   */
  ANIMEFY_RESULT_TTL_H: num(0, 720).default(24),

  /** Telegram bot token from @BotFather (`123456789:AAE…`). Unset: the Telegram bot does not start. */
  TELEGRAM_BOT_TOKEN: z
    .string()
    .regex(/^\d+:\S+$/, 'expected the token from @BotFather, like 123456789:AAE…')
    .optional(),
  /**
   * Bot API server. A self-hosted telegram-bot-api server (`--local`) lifts the 20 MB download and
   * 50 MB upload limits to 2000 MB; the tests point this at their local fake server.
   */
  TELEGRAM_API_ROOT: z
    .string()
    .regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, 'expected an http(s) URL')
    .transform((v) => v.replace(/\/+$/, ''))
    .default('https://api.telegram.org'),
  /**
   * Largest file the bot downloads, in MB. Unset: 20 for api.telegram.org, 2000 for a self-hosted
   * server.
   */
  TELEGRAM_MAX_DOWNLOAD_MB: int(1, 2000).optional(),
  /**
   * Largest file the bot uploads, in MB. Unset: 50 for api.telegram.org, 2000 for a self-hosted
   * server.
   */
  TELEGRAM_MAX_UPLOAD_MB: int(1, 2000).optional(),
  /**
   * Webhook mode: the public HTTPS URL Telegram should call, path included (e.g.
   * https://bot.example.com/telegram). Unset: long polling.
   */
  TELEGRAM_WEBHOOK_URL: z.string().regex(/^https?:\/\/\S+$/, 'expected an http(s) URL').optional(),
  /**
   * Secret Telegram sends with every webhook call (1–256 of A-Z a-z 0-9 _ -). Unset: a random one
   * per start.
   */
  TELEGRAM_WEBHOOK_SECRET: z.string().regex(/^[\w-]{1,256}$/, 'expected 1-256 characters of A-Z a-z 0-9 _ -').optional(),
  /** Port the webhook server listens on (put a TLS-terminating proxy in front of it). */
  TELEGRAM_WEBHOOK_PORT: int(0, 65_535).default(8443),
  /** Address the webhook server listens on. */
  TELEGRAM_WEBHOOK_HOST: z.string().default('0.0.0.0'),

  /**
   * Discord bot token (Developer Portal > your app > Bot > Reset Token); needed with
   * DISCORD_APP_ID. Unset: the Discord bot does not start. The bot needs no privileged intents.
   */
  DISCORD_TOKEN: z
    .string()
    .transform((v) => v.replace(/^Bot\s+/i, ''))
    .pipe(z.string().regex(/^[\w-]{20,}\.[\w-]{4,}\.[\w-]{20,}$/, 'expected the bot token from the Discord Developer Portal (three dot-separated parts)'))
    .optional(),
  /**
   * The application's id (Developer Portal > your app > General Information); needed with
   * DISCORD_TOKEN.
   */
  DISCORD_APP_ID: snowflake.optional(),
  /**
   * Register the commands in this one server only (they appear at once; global ones can take a
   * while), for development.
   */
  DISCORD_GUILD_ID: snowflake.optional(),
  /**
   * Register the slash commands and the "Animefy" message menu on every start (an idempotent bulk
   * overwrite). `npm run discord:register` does only this.
   */
  DISCORD_REGISTER_COMMANDS: bool.default(true),
  /**
   * Discord REST base URL (a REST proxy in front of Discord). The gateway URL comes from its
   * /gateway/bot; the tests point this at their local fake Discord.
   */
  DISCORD_API_BASE: z
    .string()
    .regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, 'expected an http(s) URL')
    .transform((v) => v.replace(/\/+$/, ''))
    .default('https://discord.com/api'),
  /**
   * Hosts the bot may fetch embed images from (uploaded attachments are fetched as Discord gives
   * them). Comma-separated: a host name (https only), `*.example.com`, or an origin like
   * `http://127.0.0.1:8080`. Keeps a posted link from making the bot fetch internal addresses.
   */
  DISCORD_MEDIA_HOSTS: z
    .string()
    .transform((v) => v.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^(https?:\/\/[^\s/]+|(\*\.)?[a-z0-9.-]+)$/, 'expected host names, *.domain or http(s)://host:port origins')).min(1))
    .default(['cdn.discordapp.com', 'media.discordapp.net', 'images-ext-1.discordapp.net', 'images-ext-2.discordapp.net']),
  /**
   * Largest input the Discord bot fetches, in MB (also capped by ANIMEFY_MAX_INPUT_MB). Results
   * are shrunk to the upload limit Discord states for each interaction.
   */
  DISCORD_MAX_INPUT_MB: int(1, 2000).default(25),

  /** trace | debug | info | warn | error | fatal | silent (the CLI shows warnings only unless set). */
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

export type Config = Readonly<z.infer<typeof schema>>;
export type ConfigKey = keyof Config;

/** Every setting's name, in schema order. */
export const CONFIG_KEYS = Object.keys(schema.shape) as ConfigKey[];

/** Each setting's default as the schema gives it (after its transform); settings without one are absent. */
export function configDefaults(): Partial<Record<ConfigKey, unknown>> {
  const out: Partial<Record<ConfigKey, unknown>> = {};
  for (const key of CONFIG_KEYS) {
    const field = schema.shape[key];
    if (field instanceof z.ZodDefault) out[key] = field.def.defaultValue;
  }
  return out;
}

/** A `.env.example` section: its header, the settings under it in order, and text the JSDoc does not carry. */
export interface ConfigSection {
  /** Written as `# --- title ---…`. */
  readonly title: string;
  /** Comment under the header, before the first setting. */
  readonly intro?: string;
  readonly keys: readonly ConfigKey[];
  /** Variables read outside this schema (by the tests), written commented out after the settings. */
  readonly others?: readonly { readonly name: string; readonly doc: string; readonly example: string }[];
}

/** The sections of `.env.example`, in order; every setting is in exactly one (a test checks). */
export const CONFIG_SECTIONS: readonly ConfigSection[] = [
  {
    title: 'Models',
    keys: ['ANIMEFY_MODELS_DIR', 'ANIMEFY_MODEL_MIRROR', 'ANIMEFY_EXECUTION_PROVIDERS', 'ANIMEFY_THREADS', 'ANIMEFY_CPU_MEM_ARENA', 'ANIMEFY_VERIFY_MODELS'],
  },
  { title: 'Limits on untrusted input', keys: ['ANIMEFY_MAX_INPUT_MB', 'ANIMEFY_MAX_INPUT_PIXELS', 'ANIMEFY_MAX_OUTPUT_PIXELS'] },
  {
    title: 'Pipeline',
    keys: ['ANIMEFY_WORKING_SIZE', 'ANIMEFY_FAST_SCENE_PIXELS', 'ANIMEFY_TILE_PIXELS', 'ANIMEFY_MIN_FACE_SIZE', 'ANIMEFY_FACE_THRESHOLD'],
  },
  {
    title: 'GIF and video',
    keys: [
      'ANIMEFY_MAX_VIDEO_S',
      'ANIMEFY_MAX_GIF_FRAMES',
      'ANIMEFY_MAX_DECODE_MEGAPIXEL_FRAMES',
      'ANIMEFY_VIDEO_WORKING_SIZE',
      'ANIMEFY_MAX_VIDEO_FPS',
      'ANIMEFY_VIDEO_FACE_SIZE',
      'ANIMEFY_VIDEO_FACE_REUSE',
      'ANIMEFY_TEMPORAL_SMOOTHING',
      'FFMPEG_PATH',
      'FFPROBE_PATH',
      'ANIMEFY_TEMP_DIR',
    ],
  },
  {
    title: 'Queue and worker processes',
    keys: [
      'ANIMEFY_CONCURRENCY',
      'ANIMEFY_MAX_QUEUED',
      'ANIMEFY_MAX_JOBS_PER_USER',
      'ANIMEFY_IMAGE_TIMEOUT_S',
      'ANIMEFY_VIDEO_TIMEOUT_S',
      'ANIMEFY_WORKER_MAX_RSS_MB',
      'ANIMEFY_CANCEL_GRACE_S',
    ],
  },
  {
    title: "Scale-out: BullMQ on Redis (unset: jobs run in this process's own worker processes)",
    keys: [
      'ANIMEFY_REDIS_URL',
      'ANIMEFY_REDIS_QUEUE',
      'ANIMEFY_REDIS_BLOB_TTL_S',
      'ANIMEFY_REDIS_MAX_BLOB_MB',
      'ANIMEFY_REDIS_ATTEMPTS',
      'ANIMEFY_REDIS_BACKOFF_S',
      'ANIMEFY_REDIS_LOCK_S',
    ],
  },
  {
    title: 'Bots (both)',
    intro: '`npm start` runs every bot whose token is set below; a bot without a token is skipped (logged).',
    keys: ['ANIMEFY_RATE_LIMIT_JOBS', 'ANIMEFY_RATE_LIMIT_WINDOW_S', 'ANIMEFY_SHUTDOWN_GRACE_S', 'ANIMEFY_DATA_DIR', 'ANIMEFY_RESULT_TTL_H'],
  },
  {
    title: 'Telegram',
    keys: [
      'TELEGRAM_BOT_TOKEN',
      'TELEGRAM_API_ROOT',
      'TELEGRAM_MAX_DOWNLOAD_MB',
      'TELEGRAM_MAX_UPLOAD_MB',
      'TELEGRAM_WEBHOOK_URL',
      'TELEGRAM_WEBHOOK_SECRET',
      'TELEGRAM_WEBHOOK_PORT',
      'TELEGRAM_WEBHOOK_HOST',
    ],
  },
  {
    title: 'Discord',
    keys: [
      'DISCORD_TOKEN',
      'DISCORD_APP_ID',
      'DISCORD_GUILD_ID',
      'DISCORD_REGISTER_COMMANDS',
      'DISCORD_API_BASE',
      'DISCORD_MEDIA_HOSTS',
      'DISCORD_MAX_INPUT_MB',
    ],
  },
  { title: 'Operations', keys: ['ANIMEFY_METRICS_PORT', 'ANIMEFY_METRICS_HOST'] },
  {
    title: 'Tests and benchmark',
    keys: ['ANIMEFY_FIXTURES_DIR'],
    others: [
      {
        name: 'ANIMEFY_TEST_REDIS_URL',
        doc: 'Read by the tests only (not a bot setting): a Redis server for the Redis-backend tests (they use queue names of their own and delete their keys). Unset: those tests are skipped with a note. CI sets it.',
        example: 'redis://127.0.0.1:6390',
      },
    ],
  },
  { title: 'Logging', keys: ['LOG_LEVEL'] },
];

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads the old names of renamed settings into their new names (see RENAMED_SETTINGS), in place.
 * Returns one notice per old name found, for the user to rename it.
 */
function migrateRenamed(env: Record<string, string>): string[] {
  const notices: string[] = [];
  for (const [old, renamed] of Object.entries(RENAMED_SETTINGS)) {
    const value = env[old];
    if (value === undefined) continue;
    delete env[old];
    if (env[renamed.name] !== undefined) {
      notices.push(`${old} is ignored: ${renamed.name} is set too (remove ${old})`);
      continue;
    }
    const parsed = Number(value);
    if (!Number.isFinite(parsed)) throw new ConfigError([`${old} (now ${renamed.name}): expected a number, got "${value}"`]);
    const converted = renamed.convert(parsed);
    env[renamed.name] = String(converted);
    notices.push(`${old} is now ${renamed.name} (in ${renamed.unit}): read as ${renamed.name}=${converted}; please rename it`);
  }
  return notices;
}

/** Parses settings from an environment object (tests pass their own). Empty strings count as unset. */
export function parseConfig(env: NodeJS.ProcessEnv, notices: string[] = []): Config {
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '') cleaned[key] = value.trim();
  }
  notices.push(...migrateRenamed(cleaned));
  for (const [name, why] of Object.entries(RETIRED_SETTINGS)) {
    if (cleaned[name] !== undefined) notices.push(`${name} is no longer read: ${why}`);
  }
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  const value = result.data;
  return Object.freeze({
    ...value,
    ANIMEFY_MODELS_DIR: path.resolve(REPO_ROOT, value.ANIMEFY_MODELS_DIR),
    ANIMEFY_FIXTURES_DIR: path.resolve(REPO_ROOT, value.ANIMEFY_FIXTURES_DIR),
    ANIMEFY_DATA_DIR: path.resolve(REPO_ROOT, value.ANIMEFY_DATA_DIR),
    ANIMEFY_MODEL_MIRROR: value.ANIMEFY_MODEL_MIRROR && path.resolve(REPO_ROOT, value.ANIMEFY_MODEL_MIRROR),
  });
}

let cached: Config | undefined;

/** The process's settings: `.env` in the repo root (if any) under the real environment. */
export function getConfig(): Config {
  if (!cached) {
    loadDotenv({ path: path.join(REPO_ROOT, '.env'), quiet: true });
    const notices: string[] = [];
    cached = parseConfig(process.env, notices);
    // Node prints these on stderr once (--no-deprecation silences them).
    for (const notice of notices) process.emitWarning(notice, { type: 'DeprecationWarning', code: 'ANIMEFY_RENAMED_SETTING' });
  }
  return cached;
}
