import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config.ts';

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
});
