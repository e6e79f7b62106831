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
  /** Faces smaller than this (box width in working pixels) stay with the scene model. */
  ANIMEFY_MIN_FACE_SIZE: int(8, 4096).default(36),
  /** Face detector score threshold. */
  ANIMEFY_FACE_THRESHOLD: z.coerce.number().min(0.05).max(0.99).default(0.6),

  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

export type Config = Readonly<z.infer<typeof schema>>;

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
