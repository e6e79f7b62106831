import { describe, expect, it } from 'vitest';
import { telegramLimits } from '#src/bots/telegram/start.ts';
import { ConfigError, parseConfig } from '#src/config.ts';

const MB = 1024 * 1024;
const TOKEN = '123456:ABC-def_x';

describe('telegramLimits', () => {
  it('uses 20 MB down and 50 MB up on api.telegram.org', () => {
    const config = parseConfig({ TELEGRAM_BOT_TOKEN: TOKEN });
    expect(config.TELEGRAM_API_ROOT).toBe('https://api.telegram.org');
    const limits = telegramLimits(config);
    expect(limits.downloadBytes).toBe(20 * MB);
    expect(limits.uploadBytes).toBe(50 * MB);
    expect(limits.maxOutputPixels).toBe(config.ANIMEFY_MAX_OUTPUT_PIXELS);
  });

  it('still counts api.telegram.org written with a trailing slash as the official server', () => {
    const limits = telegramLimits(parseConfig({ TELEGRAM_API_ROOT: 'https://api.telegram.org/' }));
    expect(limits).toMatchObject({ downloadBytes: 20 * MB, uploadBytes: 50 * MB });
  });

  it('a self-hosted server uploads up to 2000 MB, and downloads up to ANIMEFY_MAX_INPUT_MB', () => {
    const defaults = telegramLimits(parseConfig({ TELEGRAM_API_ROOT: 'http://localhost:8081' }));
    expect(defaults.uploadBytes).toBe(2000 * MB);
    expect(defaults.downloadBytes).toBe(50 * MB); // the default input cap

    const bigger = telegramLimits(parseConfig({ TELEGRAM_API_ROOT: 'http://localhost:8081', ANIMEFY_MAX_INPUT_MB: '300' }));
    expect(bigger.downloadBytes).toBe(300 * MB);
    expect(bigger.uploadBytes).toBe(2000 * MB);
  });

  it('the input cap applies on api.telegram.org too', () => {
    expect(telegramLimits(parseConfig({ ANIMEFY_MAX_INPUT_MB: '5' })).downloadBytes).toBe(5 * MB);
  });

  it('explicit TELEGRAM_MAX_DOWNLOAD_MB / TELEGRAM_MAX_UPLOAD_MB override the defaults', () => {
    const official = telegramLimits(parseConfig({ TELEGRAM_MAX_DOWNLOAD_MB: '10', TELEGRAM_MAX_UPLOAD_MB: '30' }));
    expect(official).toMatchObject({ downloadBytes: 10 * MB, uploadBytes: 30 * MB });

    const selfHosted = telegramLimits(
      parseConfig({ TELEGRAM_API_ROOT: 'https://bots.example.com/api', TELEGRAM_MAX_DOWNLOAD_MB: '100', TELEGRAM_MAX_UPLOAD_MB: '500', ANIMEFY_MAX_INPUT_MB: '1000' }),
    );
    expect(selfHosted).toMatchObject({ downloadBytes: 100 * MB, uploadBytes: 500 * MB });
  });

  it('an explicit download limit is still capped by ANIMEFY_MAX_INPUT_MB', () => {
    expect(telegramLimits(parseConfig({ TELEGRAM_API_ROOT: 'http://localhost:8081', TELEGRAM_MAX_DOWNLOAD_MB: '1000' })).downloadBytes).toBe(50 * MB);
  });
});

describe('Telegram settings in parseConfig', () => {
  it('accepts a BotFather-shaped token and leaves it unset by default', () => {
    expect(parseConfig({ TELEGRAM_BOT_TOKEN: '123:ABC-def_x' }).TELEGRAM_BOT_TOKEN).toBe('123:ABC-def_x');
    expect(parseConfig({}).TELEGRAM_BOT_TOKEN).toBeUndefined();
    expect(parseConfig({ TELEGRAM_BOT_TOKEN: '  ' }).TELEGRAM_BOT_TOKEN).toBeUndefined();
  });

  it('rejects a malformed token, naming the variable', () => {
    for (const token of ['abc', '123', ':abc', 'abc:def', '123: abc']) {
      expect(() => parseConfig({ TELEGRAM_BOT_TOKEN: token }), token).toThrow(ConfigError);
    }
    expect(() => parseConfig({ TELEGRAM_BOT_TOKEN: 'abc' })).toThrow(/TELEGRAM_BOT_TOKEN/);
  });

  it('rejects an API root that is not an http(s) URL', () => {
    for (const root of ['ftp://api.telegram.org', 'api.telegram.org', 'https://', 'https://host name']) {
      expect(() => parseConfig({ TELEGRAM_API_ROOT: root }), root).toThrow(ConfigError);
    }
    expect(() => parseConfig({ TELEGRAM_API_ROOT: 'ftp://x' })).toThrow(/TELEGRAM_API_ROOT/);
  });

  it('strips trailing slashes from the API root', () => {
    expect(parseConfig({ TELEGRAM_API_ROOT: 'http://localhost:8081/' }).TELEGRAM_API_ROOT).toBe('http://localhost:8081');
    expect(parseConfig({ TELEGRAM_API_ROOT: 'https://example.com/tg//' }).TELEGRAM_API_ROOT).toBe('https://example.com/tg');
    expect(parseConfig({ TELEGRAM_API_ROOT: 'http://127.0.0.1:8081' }).TELEGRAM_API_ROOT).toBe('http://127.0.0.1:8081');
  });

  it('rejects file limits outside 1..2000 MB', () => {
    expect(() => parseConfig({ TELEGRAM_MAX_DOWNLOAD_MB: '0' })).toThrow(/TELEGRAM_MAX_DOWNLOAD_MB/);
    expect(() => parseConfig({ TELEGRAM_MAX_UPLOAD_MB: '2001' })).toThrow(/TELEGRAM_MAX_UPLOAD_MB/);
  });
});
