import fs from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, CONFIG_SECTIONS, ConfigError, configDefaults, parseConfig, RENAMED_SETTINGS, REPO_ROOT } from '#src/config.ts';

describe('config', () => {
  it('starts with defaults from an empty environment', () => {
    const c = parseConfig({});
    expect(c.ANIMEFY_EXECUTION_PROVIDERS).toEqual(['cpu']);
    expect(c.ANIMEFY_WORKING_SIZE).toBe(1280);
    expect(c.ANIMEFY_MAX_INPUT_PIXELS).toBe(40_000_000);
    expect(c.ANIMEFY_CPU_MEM_ARENA).toBe('auto');
    expect(c.ANIMEFY_MODELS_DIR).toMatch(/models$/);
  });

  it('parses execution providers, numbers and booleans, treating empty strings as unset', () => {
    const c = parseConfig({ ANIMEFY_EXECUTION_PROVIDERS: 'CUDA, cpu', ANIMEFY_THREADS: '4', ANIMEFY_VERIFY_MODELS: 'false', ANIMEFY_WORKING_SIZE: '' });
    expect(c.ANIMEFY_EXECUTION_PROVIDERS).toEqual(['cuda', 'cpu']);
    expect(c.ANIMEFY_THREADS).toBe(4);
    expect(c.ANIMEFY_VERIFY_MODELS).toBe(false);
    expect(c.ANIMEFY_WORKING_SIZE).toBe(1280);
  });

  it('names every invalid variable', () => {
    try {
      parseConfig({ ANIMEFY_EXECUTION_PROVIDERS: 'tpu', ANIMEFY_WORKING_SIZE: 'big', LOG_LEVEL: 'loud' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const message = (err as Error).message;
      for (const key of ['ANIMEFY_EXECUTION_PROVIDERS', 'ANIMEFY_WORKING_SIZE', 'LOG_LEVEL']) expect(message).toContain(key);
    }
  });

  it('documents every setting in .env.example, and nothing that is not one', () => {
    const documented = [...fs.readFileSync(path.join(REPO_ROOT, '.env.example'), 'utf8').matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
    expect([...documented].sort()).toEqual([...CONFIG_KEYS].sort());
  });

  it('puts every setting in exactly one CONFIG_SECTIONS entry (the sections of .env.example)', () => {
    const listed = CONFIG_SECTIONS.flatMap((section) => section.keys);
    expect([...listed].sort()).toEqual([...CONFIG_KEYS].sort());
    expect(new Set(listed).size).toBe(listed.length);
    for (const section of CONFIG_SECTIONS) expect(section.keys.length, section.title).toBeGreaterThan(0);
  });

  it('shows in .env.example the defaults the schema uses (its uncommented values parse to the same config)', () => {
    const values = parseDotenv(fs.readFileSync(path.join(REPO_ROOT, '.env.example'), 'utf8'));
    expect(parseConfig(values)).toEqual(parseConfig({}));
    const defaults = configDefaults();
    expect(defaults.ANIMEFY_WORKING_SIZE).toBe(1280);
    expect(defaults.ANIMEFY_MODELS_DIR).toBe('models');
    expect('TELEGRAM_BOT_TOKEN' in defaults).toBe(false);
  });

  it('parses the queue settings and rejects a Redis URL that is not one', () => {
    const c = parseConfig({ ANIMEFY_CONCURRENCY: '2', ANIMEFY_REDIS_URL: 'redis://127.0.0.1:6379/1', ANIMEFY_METRICS_PORT: '9464' });
    expect([c.ANIMEFY_CONCURRENCY, c.ANIMEFY_MAX_QUEUED, c.ANIMEFY_MAX_JOBS_PER_USER]).toEqual([2, 100, 2]);
    expect(c.ANIMEFY_REDIS_URL).toBe('redis://127.0.0.1:6379/1');
    expect(c.ANIMEFY_METRICS_PORT).toBe(9464);
    expect(parseConfig({}).ANIMEFY_REDIS_URL).toBeUndefined();
    expect(() => parseConfig({ ANIMEFY_REDIS_URL: 'http://example.com' })).toThrow(/ANIMEFY_REDIS_URL/);
    expect(() => parseConfig({ ANIMEFY_CONCURRENCY: '0' })).toThrow(ConfigError);
  });

  it('names sizes in MB and durations in s, and still reads the old names in their old units, with a notice', () => {
    const sized = CONFIG_KEYS.filter((k) => /_(BYTES|SECONDS|MS)$/.test(k));
    expect(sized).toEqual([]);

    const notices: string[] = [];
    const c = parseConfig(
      { ANIMEFY_MAX_INPUT_BYTES: String(10 * 1024 * 1024), ANIMEFY_MAX_VIDEO_SECONDS: '9', ANIMEFY_CANCEL_GRACE_MS: '1500', ANIMEFY_REDIS_LOCK_MS: '3000' },
      notices,
    );
    expect([c.ANIMEFY_MAX_INPUT_MB, c.ANIMEFY_MAX_VIDEO_S, c.ANIMEFY_CANCEL_GRACE_S, c.ANIMEFY_REDIS_LOCK_S]).toEqual([10, 9, 1.5, 3]);
    expect(notices).toHaveLength(4);
    expect(notices[0]).toMatch(/ANIMEFY_MAX_INPUT_BYTES is now ANIMEFY_MAX_INPUT_MB \(in MB\): read as ANIMEFY_MAX_INPUT_MB=10/);

    // The new name wins; an old value that is not a number is named in the error.
    const both: string[] = [];
    expect(parseConfig({ ANIMEFY_MAX_INPUT_MB: '5', ANIMEFY_MAX_INPUT_BYTES: '1024' }, both).ANIMEFY_MAX_INPUT_MB).toBe(5);
    expect(both[0]).toMatch(/ANIMEFY_MAX_INPUT_BYTES is ignored/);
    expect(() => parseConfig({ ANIMEFY_REDIS_BACKOFF_MS: 'soon' })).toThrow(/ANIMEFY_REDIS_BACKOFF_MS \(now ANIMEFY_REDIS_BACKOFF_S\)/);
    // Every new name is a real setting.
    for (const renamed of Object.values(RENAMED_SETTINGS)) expect(CONFIG_KEYS).toContain(renamed.name);
  });

  it('says that a retired setting is no longer read, and what replaced it', () => {
    const notices: string[] = [];
    const c = parseConfig({ ANIMEFY_MAX_VIDEO_PIXELS: '2073600' }, notices);
    expect(notices).toEqual([expect.stringMatching(/ANIMEFY_MAX_VIDEO_PIXELS is no longer read: .*ANIMEFY_MAX_DECODE_MEGAPIXEL_FRAMES/)]);
    expect(c.ANIMEFY_MAX_DECODE_MEGAPIXEL_FRAMES).toBe(8000);
    expect(CONFIG_KEYS).not.toContain('ANIMEFY_MAX_VIDEO_PIXELS');
  });
});
