/**
 * The one place that reads settings. `.env` (dotenv) is loaded once, every variable is validated with
 * zod into a typed, frozen object, and every variable is documented in `.env.example`.
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

const schema = z.object({
  /** Where model weights live (git-ignored). */
  ANIMEFY_MODELS_DIR: z.string().default(path.join(REPO_ROOT, 'models')),
  /** A directory holding the weights; `npm run models` copies from it before trying the manifest URLs. */
  ANIMEFY_MODEL_MIRROR: z.string().optional(),
  /** Real photos, GIF and video used by tests and the benchmark. */
  ANIMEFY_FIXTURES_DIR: z.string().default(path.resolve(REPO_ROOT, '..', 'shared', 'fixtures')),
  /** onnxruntime execution providers in order of preference, e.g. `cpu` or `cuda,cpu`. */
  ANIMEFY_EXECUTION_PROVIDERS: executionProviders.default(['cpu']),
  /** Threads per model run (0 = one per core). */
  ANIMEFY_THREADS: int(0, 256).default(0),
  /**
   * onnxruntime's CPU memory arena keeps a session's peak activation memory for the life of the
   * process (about 1 GB more RSS after a large picture with a scene model). `auto`: on only for the
   * models the manifest marks (bounded input sizes, where it is 15–20% faster).
   */
  ANIMEFY_CPU_MEM_ARENA: z.enum(['auto', 'on', 'off']).default('auto'),
  /** Check each model's sha256 the first time it is loaded in a process. */
  ANIMEFY_VERIFY_MODELS: bool.default(true),

  /** Largest accepted upload in bytes. */
  ANIMEFY_MAX_INPUT_BYTES: int(1024, 2 ** 31).default(50 * 1024 * 1024),
  /** Largest accepted image in pixels (sharp limitInputPixels). */
  ANIMEFY_MAX_INPUT_PIXELS: int(1, 1e9).default(40_000_000),
  /** Largest result in pixels (upscaling is clamped to it). */
  ANIMEFY_MAX_OUTPUT_PIXELS: int(1, 1e9).default(40_000_000),
  /** The pipeline works at this long side at most; the result is resized back to the input size. */
  ANIMEFY_WORKING_SIZE: int(128, 8192).default(1280),
  /** Generators run on images up to this many pixels in one piece; larger ones go in overlapping tiles. */
  ANIMEFY_TILE_PIXELS: int(65_536, 64_000_000).default(1_700_000),
  /** In `fast` quality (the default) the scene model runs on at most this many pixels. */
  ANIMEFY_FAST_SCENE_PIXELS: int(65_536, 64_000_000).default(360_000),
  /**
   * Faces smaller than this (detector box, longest side in working pixels) skip the face model and
   * keep the scene model's rendering: the face model drew eyes on no fixture face under 35 px.
   */
  ANIMEFY_MIN_FACE_SIZE: int(8, 4096).default(40),
  /** Face detector score threshold. */
  ANIMEFY_FACE_THRESHOLD: z.coerce.number().min(0.05).max(0.99).default(0.6),

  /** GIF and video: longest accepted clip in seconds. */
  ANIMEFY_MAX_VIDEO_SECONDS: int(1, 3600).default(15),
  /** GIF and animated WebP: most frames accepted. */
  ANIMEFY_MAX_GIF_FRAMES: int(1, 100_000).default(150),
  /** GIF and video: largest accepted frame in pixels (default 1920x1080; 4K is refused). */
  ANIMEFY_MAX_VIDEO_PIXELS: int(1, 1e9).default(1920 * 1080),
  /** GIF and video frames are stylized (and returned) at this long side at most. */
  ANIMEFY_VIDEO_WORKING_SIZE: int(64, 4096).default(720),
  /** Faster videos are resampled to this frame rate (fewer frames to stylize). */
  ANIMEFY_MAX_VIDEO_FPS: int(1, 120).default(30),
  /** Face crop resolution for GIF and video frames: 384 or 512 (the face model draws no eyes at 256). */
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
  /** ffmpeg binary (default: `ffmpeg` on PATH). */
  FFMPEG_PATH: z.string().optional(),
  /** ffprobe binary (default: next to FFMPEG_PATH, else `ffprobe` on PATH). */
  FFPROBE_PATH: z.string().optional(),
  /** Where GIF and video jobs keep their temporary files (removed after every job). */
  ANIMEFY_TEMP_DIR: z.string().optional(),

  /** Jobs run at once (one worker process each). One per CPU box or GPU is right for most machines. */
  ANIMEFY_CONCURRENCY: int(1, 64).default(1),
  /** Jobs waiting at most; past it new jobs are refused with a "busy, try again" message. */
  ANIMEFY_MAX_QUEUED: int(1, 100_000).default(100),
  /** Jobs one user may have queued or running at once. */
  ANIMEFY_MAX_JOBS_PER_USER: int(1, 1000).default(2),
  /** A picture job is stopped (and its worker restarted) after this many seconds. */
  ANIMEFY_IMAGE_TIMEOUT_S: int(1, 86_400).default(120),
  /** A GIF or video job is stopped after this many seconds. */
  ANIMEFY_VIDEO_TIMEOUT_S: int(1, 86_400).default(600),
  /**
   * A worker process whose resident memory passes this many MB is stopped and its job failed with
   * OUT_OF_MEMORY. 0: 80% of the machine's memory divided by the concurrency.
   */
  ANIMEFY_WORKER_MAX_RSS_MB: int(0, 1_048_576).default(0),
  /** How long a cancelled running job may take to stop by itself before its worker is killed. */
  ANIMEFY_CANCEL_GRACE_MS: int(0, 600_000).default(3000),

  /** Redis URL (redis://…): bots enqueue into BullMQ and `npm run worker` processes run the jobs. */
  ANIMEFY_REDIS_URL: z.string().regex(/^rediss?:\/\/\S+$/, 'expected redis://host:port or rediss://…').optional(),
  /** BullMQ queue name (also the Redis key prefix for media blobs). */
  ANIMEFY_REDIS_QUEUE: z.string().regex(/^[\w.-]+$/).default('animefy'),
  /** Media blobs (inputs and results) expire from Redis after this many seconds. */
  ANIMEFY_REDIS_BLOB_TTL_S: int(60, 7 * 86_400).default(3600),
  /** Largest media blob stored in Redis, in bytes (inputs and results). */
  ANIMEFY_REDIS_MAX_BLOB_BYTES: int(1024, 512 * 1024 * 1024).default(64 * 1024 * 1024),
  /** Tries per job for transient failures (a crashed worker); bad input is never retried. */
  ANIMEFY_REDIS_ATTEMPTS: int(1, 20).default(3),
  /** First retry delay; it doubles on each further try. */
  ANIMEFY_REDIS_BACKOFF_MS: int(0, 3_600_000).default(2000),
  /**
   * A worker holds a job's lock this long and renews it while the job runs; a job whose worker died
   * is picked up again after about this long.
   */
  ANIMEFY_REDIS_LOCK_MS: int(1000, 3_600_000).default(30_000),

  /** Serve /healthz and /metrics (Prometheus) on this port (0: any free port, logged); unset: none. */
  ANIMEFY_METRICS_PORT: int(0, 65_535).optional(),
  /** Address the metrics endpoint listens on (0.0.0.0 inside containers). */
  ANIMEFY_METRICS_HOST: z.string().default('127.0.0.1'),

  /** Jobs one user may start per rate-limit window (both bots); past it they are asked to wait. */
  ANIMEFY_RATE_LIMIT_JOBS: int(1, 10_000).default(8),
  /** The rate-limit window in seconds. */
  ANIMEFY_RATE_LIMIT_WINDOW_S: int(1, 86_400).default(300),
  /** On SIGTERM, running jobs get this long to finish before they are cancelled (with a message). */
  ANIMEFY_SHUTDOWN_GRACE_S: int(0, 3600).default(20),
  /** Where the bots keep small state: each chat's default style (a JSON file). */
  ANIMEFY_DATA_DIR: z.string().default(path.join(REPO_ROOT, 'data')),

  /** Telegram bot token from @BotFather (`<digits>:<secret>`); unset: the Telegram bot does not start. */
  TELEGRAM_BOT_TOKEN: z
    .string()
    .regex(/^\d+:\S+$/, 'expected the token from @BotFather, like 123456789:AAE…')
    .optional(),
  /**
   * Bot API server. Point it at a self-hosted telegram-bot-api server (`--local`) to lift the file
   * limits from 20 MB down / 50 MB up to 2000 MB.
   */
  TELEGRAM_API_ROOT: z
    .string()
    .regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, 'expected an http(s) URL')
    .transform((v) => v.replace(/\/+$/, ''))
    .default('https://api.telegram.org'),
  /** Largest file the bot downloads, in MB (default: 20 for api.telegram.org, 2000 for a self-hosted server). */
  TELEGRAM_MAX_DOWNLOAD_MB: int(1, 2000).optional(),
  /** Largest file the bot uploads, in MB (default: 50 for api.telegram.org, 2000 for a self-hosted server). */
  TELEGRAM_MAX_UPLOAD_MB: int(1, 2000).optional(),
  /** Public HTTPS URL for webhook mode (e.g. https://bot.example.com/telegram); unset: long polling. */
  TELEGRAM_WEBHOOK_URL: z.string().regex(/^https?:\/\/\S+$/, 'expected an http(s) URL').optional(),
  /** Secret Telegram sends with every webhook call (1–256 of A-Z a-z 0-9 _ -); unset: a random one per start. */
  TELEGRAM_WEBHOOK_SECRET: z.string().regex(/^[\w-]{1,256}$/, 'expected 1-256 characters of A-Z a-z 0-9 _ -').optional(),
  /** Port the webhook server listens on. */
  TELEGRAM_WEBHOOK_PORT: int(0, 65_535).default(8443),
  /** Address the webhook server listens on. */
  TELEGRAM_WEBHOOK_HOST: z.string().default('0.0.0.0'),

  /** Discord bot token (Developer Portal → Bot → Reset Token); unset: the Discord bot does not start. */
  DISCORD_TOKEN: z
    .string()
    .transform((v) => v.replace(/^Bot\s+/i, ''))
    .pipe(z.string().regex(/^[\w-]{20,}\.[\w-]{4,}\.[\w-]{20,}$/, 'expected the bot token from the Discord Developer Portal (three dot-separated parts)'))
    .optional(),
  /** The application's id (Developer Portal → General Information); needed with DISCORD_TOKEN. */
  DISCORD_APP_ID: snowflake.optional(),
  /** Register the commands in this one server (instant; for development) instead of globally. */
  DISCORD_GUILD_ID: snowflake.optional(),
  /** Register the slash and context-menu commands on start (an idempotent bulk overwrite). */
  DISCORD_REGISTER_COMMANDS: bool.default(true),
  /** Discord REST base URL (a REST proxy in front of Discord); the gateway URL comes from its /gateway/bot. */
  DISCORD_API_BASE: z
    .string()
    .regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, 'expected an http(s) URL')
    .transform((v) => v.replace(/\/+$/, ''))
    .default('https://discord.com/api'),
  /**
   * Hosts the bot may fetch embed images from (attachments come from Discord itself and are fetched
   * as given). Comma-separated: a host name (https only), `*.example.com`, or an origin like
   * `http://127.0.0.1:8080`.
   */
  DISCORD_MEDIA_HOSTS: z
    .string()
    .transform((v) => v.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^(https?:\/\/[^\s/]+|(\*\.)?[a-z0-9.-]+)$/, 'expected host names, *.domain or http(s)://host:port origins')).min(1))
    .default(['cdn.discordapp.com', 'media.discordapp.net', 'images-ext-1.discordapp.net', 'images-ext-2.discordapp.net']),
  /** Largest input the Discord bot fetches, in MB (also capped by ANIMEFY_MAX_INPUT_BYTES). */
  DISCORD_MAX_INPUT_MB: int(1, 2000).default(25),

  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

export type Config = Readonly<z.infer<typeof schema>>;

/** Every setting's name (docs and tests check `.env.example` against it). */
export const CONFIG_KEYS = Object.keys(schema.shape) as (keyof Config)[];

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses settings from an environment object (tests pass their own). Empty strings count as unset. */
export function parseConfig(env: NodeJS.ProcessEnv): Config {
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '') cleaned[key] = value.trim();
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
    cached = parseConfig(process.env);
  }
  return cached;
}
