/**
 * `npm start` as an operator runs it: a real process, configured only by environment variables,
 * long polling a fake Telegram Bot API server, answering, and stopping cleanly on SIGTERM. Plus
 * webhook mode (Telegram's secret token checked) and a start with no token at all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBots } from '#src/app/bot.ts';
import { commandDefinitions } from '#src/bots/discord/commands/index.ts';
import { processPolicy } from '#src/app/process-policy.ts';
import { childLogger } from '#src/log.ts';
import { parseConfig, REPO_ROOT } from '#src/config.ts';
import { FakeDiscord } from '../fakes/fake-discord.ts';
import { fixture } from '../helpers/fixtures.ts';
import { FakeTelegram, type FakeChat, type FakeUser } from '../fakes/fake-telegram.ts';

const alice: FakeUser = { id: 1001, first_name: 'Alice' };
const dm: FakeChat = { id: 1001, type: 'private', first_name: 'Alice' };

let dataDir: string;

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'animefy-main-test-'));
});

afterAll(async () => {
  await fs.rm(dataDir, { recursive: true, force: true });
});

/** Environment for a child `npm start`: this test's settings over the current ones, no .env surprises. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info', ANIMEFY_DATA_DIR: dataDir, ANIMEFY_CONCURRENCY: '1', ...extra };
  for (const key of ['TELEGRAM_BOT_TOKEN', 'TELEGRAM_WEBHOOK_URL', 'DISCORD_TOKEN', 'DISCORD_APP_ID', 'ANIMEFY_REDIS_URL', 'ANIMEFY_METRICS_PORT']) {
    if (!(key in extra)) env[key] = '';
  }
  return env;
}

/**
 * `npm start`, or the command behind it (`node --import tsx src/app/bot.ts`, what the Docker image
 * runs): npm itself exits at once on SIGTERM without passing it on, so signal tests use the latter.
 */
function npmStart(env: NodeJS.ProcessEnv, options: { direct?: boolean } = {}): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  const [command, args] = options.direct ? [process.execPath, ['--import', 'tsx', 'src/app/bot.ts']] : ['npm', ['start', '--silent']];
  const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exit };
}

describe('npm start', () => {
  it('with no bot token, says which variable to set and exits non-zero', async () => {
    const run = npmStart(childEnv({}));
    expect(await run.exit).toBe(1);
    expect(run.output()).toContain('TELEGRAM_BOT_TOKEN is not set');
    expect(run.output()).toContain('No bot token is set');
  });

  it('with a Discord token but no application id, says so and exits non-zero', async () => {
    const run = npmStart(childEnv({ DISCORD_TOKEN: 'MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GhIjKl.abcdefghijklmnopqrstuvwxyz012345' }), { direct: true });
    expect(await run.exit).toBe(1);
    expect(run.output()).toContain('DISCORD_APP_ID is not set');
  });

  it('runs the Telegram and Discord bots from environment variables, answers on both, and stops cleanly on SIGTERM', async () => {
    const fake = await FakeTelegram.start();
    const discord = await FakeDiscord.start();
    const run = npmStart(
      childEnv({
        TELEGRAM_BOT_TOKEN: fake.token,
        TELEGRAM_API_ROOT: fake.apiRoot,
        DISCORD_TOKEN: discord.token,
        DISCORD_APP_ID: discord.appId,
        DISCORD_API_BASE: discord.apiBase,
      }),
      { direct: true },
    );
    try {
      await fake.waitForCall('deleteWebhook', undefined, { timeoutMs: 60_000 });
      await discord.waitFor(() => discord.commands.global.length === commandDefinitions().length, 30_000, () => 'the Discord commands registered');
      const about = await discord.slashCommand({ name: 'about' });
      expect((await about.waitForAck(10_000)).data.content).toMatch(/non-commercial/);
      const message = fake.userText({ chat: dm, from: alice, text: '/help' });
      const reply = await fake.waitForCall('sendMessage', (c) => c.params.reply_parameters?.message_id === message.message_id, { timeoutMs: 30_000 });
      expect(reply.params.text).toMatch(/Send me a photo/);

      run.child.kill('SIGTERM');
      const started = Date.now();
      expect(await run.exit).toBe(0);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(run.output()).toContain('shutting down');
      expect(fake.pendingPolls).toBe(0);
      expect(discord.gatewayConnections).toBe(0);
    } finally {
      run.child.kill('SIGKILL');
      await fake.close();
      await discord.close();
    }
  });
});

describe('webhook mode', () => {
  it('registers the webhook with a secret and only accepts updates that carry it', async () => {
    const fake = await FakeTelegram.start();
    const config = parseConfig({
      ...process.env,
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      TELEGRAM_WEBHOOK_URL: 'https://bot.example.com/telegram/hook',
      TELEGRAM_WEBHOOK_SECRET: 'test-secret_123',
      TELEGRAM_WEBHOOK_PORT: '0',
      TELEGRAM_WEBHOOK_HOST: '127.0.0.1',
      ANIMEFY_REDIS_URL: '',
      ANIMEFY_METRICS_PORT: '',
      ANIMEFY_DATA_DIR: dataDir,
    });
    const bots = await startBots(config);
    try {
      expect(fake.webhook).toEqual({ url: 'https://bot.example.com/telegram/hook', secret_token: 'test-secret_123' });
      expect(fake.callsTo('getUpdates')).toEqual([]);
      const url = `http://127.0.0.1:${bots.telegram!.webhookPort}/telegram/hook`;
      const update = {
        update_id: 1,
        message: { message_id: 7, date: Math.floor(Date.now() / 1000), chat: dm, from: { ...alice, is_bot: false }, text: '/styles', entities: [{ type: 'bot_command', offset: 0, length: 7 }] },
      };
      const post = (secret: string | undefined, target = url) =>
        fetch(target, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(secret ? { 'x-telegram-bot-api-secret-token': secret } : {}) },
          body: JSON.stringify(update),
        });

      expect((await post('wrong')).status).toBe(401);
      expect((await post(undefined)).status).toBe(401);
      expect((await post('test-secret_123', url.replace('/hook', '/other'))).status).toBe(404);
      expect(fake.callsTo('sendMessage')).toEqual([]);

      expect((await post('test-secret_123')).status).toBe(200);
      const reply = await fake.waitForCall('sendMessage', (c) => c.params.reply_parameters?.message_id === 7, { timeoutMs: 10_000 });
      expect(reply.params.text).toMatch(/^Styles:/);
    } finally {
      await bots.stop();
      await fake.close();
    }
  });
});

describe('long polling trouble', () => {
  it('a 409 Conflict is waited out; a revoked token (401) stops only the Telegram bot, and Discord keeps answering', async () => {
    const fake = await FakeTelegram.start();
    const discord = await FakeDiscord.start();
    const config = parseConfig({
      ...process.env,
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      TELEGRAM_WEBHOOK_URL: '',
      DISCORD_TOKEN: discord.token,
      DISCORD_APP_ID: discord.appId,
      DISCORD_API_BASE: discord.apiBase,
      ANIMEFY_REDIS_URL: '',
      ANIMEFY_METRICS_PORT: '',
      ANIMEFY_DATA_DIR: dataDir,
    });
    const bots = await startBots(config, { telegram: { polling: { retryMs: 200, maxRetryMs: 400 } } });
    try {
      const polling = bots.telegram!.polling!;
      while (fake.pendingPolls === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      // Another instance starts polling with the same token: Telegram ends our poll with 409.
      fake.failNext('getUpdates', { status: 409 });
      fake.userText({ chat: dm, from: alice, text: '/styles' }); // wakes the held poll; the next one fails
      const conflict = await fake.waitForCall('getUpdates', (c) => c.status === 409, { timeoutMs: 30_000 });
      expect(conflict.status).toBe(409);
      // Polling comes back by itself and answers what was sent meanwhile.
      const message = fake.userText({ chat: dm, from: alice, text: '/about' });
      const reply = await fake.waitForCall('sendMessage', (c) => c.params.reply_parameters?.message_id === message.message_id, { timeoutMs: 30_000 });
      expect(reply.params.text).toMatch(/non-commercial/);
      expect(polling.state).toBe('running');

      // The token is revoked: the Telegram bot stops for good, the process and Discord go on.
      fake.revokeToken();
      expect(await polling.done).toBe('unauthorized');
      await discord.waitFor(() => discord.commands.global.length > 0, 30_000, () => 'the Discord commands registered');
      const about = await discord.slashCommand({ name: 'about' });
      expect((await about.waitForAck(10_000)).data.content).toMatch(/non-commercial/);
    } finally {
      await bots.stop();
      await fake.close();
      await discord.close();
    }
  });

  it('an unawaited rejection is logged and the process goes on; an uncaught exception stops gracefully, then exits 1', async () => {
    const log = childLogger({ module: 'test' });
    const events: string[] = [];
    let stopped!: () => void;
    const policy = processPolicy({
      log,
      stop: () => new Promise<void>((resolve) => (stopped = () => (events.push('stopped'), resolve()))),
      exit: (code) => events.push(`exit ${code}`),
      stopTimeoutMs: 60_000,
    });
    policy.onUnhandledRejection(new Error('a stray API call failed'));
    expect(events).toEqual([]);
    policy.onUncaughtException(new Error('state is broken'));
    policy.onUncaughtException(new Error('and again while stopping'));
    expect(events).toEqual([]); // waits for the graceful stop
    stopped();
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['stopped', 'exit 1']);
  });
});

const redisUrl = process.env.ANIMEFY_TEST_REDIS_URL;

describe.skipIf(!redisUrl)('state shared through Redis', () => {
  it('a bot process killed mid-job is replaced by another, and "Another style" still works on the earlier result', async () => {
    const fake = await FakeTelegram.start();
    const env = childEnv({
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      ANIMEFY_REDIS_URL: redisUrl!,
      ANIMEFY_REDIS_QUEUE: `animefy-restart-${process.pid}-${Date.now()}`,
      ANIMEFY_WORKING_SIZE: '384',
    });
    const worker = spawn(process.execPath, ['--import', 'tsx', 'src/app/worker.ts'], { cwd: REPO_ROOT, env, stdio: 'ignore' });
    let second: ReturnType<typeof npmStart> | undefined;
    const first = npmStart(env, { direct: true });
    try {
      const photo = await fake.userPhoto({ chat: dm, from: alice, bytes: fixture('portrait_frontal_1.jpg'), caption: 'hayao' });
      const result = await fake.waitForCall('sendPhoto', (c) => c.status === 200 && c.params.reply_parameters?.message_id === photo.message_id, { timeoutMs: 120_000 });
      const again = (result.params.reply_markup.inline_keyboard as any[][]).flat().find((b) => /Another style/.test(b.text)).callback_data;

      // A second job is running when the process is killed (no graceful stop).
      const busy = fake.calls.length;
      await fake.userPhoto({ chat: dm, from: alice, bytes: fixture('portrait_frontal_2.jpg'), caption: 'shinkai' });
      await fake.waitForCall('sendMessage', (c) => Number(c.params.chat_id) === dm.id, { since: busy, timeoutMs: 30_000 });
      first.child.kill('SIGKILL');
      await first.exit;

      second = npmStart(env, { direct: true });
      const before = fake.calls.length;
      await fake.waitForCall('deleteWebhook', undefined, { since: before, timeoutMs: 60_000 }); // the new process is up
      fake.pressButton({ from: alice, message: result.result, data: again });
      const keyboard = await fake.waitForCall('sendMessage', (c) => /Which style/.test(String(c.params.text)), { since: before, timeoutMs: 30_000 });
      const cartoon = (keyboard.params.reply_markup.inline_keyboard as any[][]).flat().find((b) => /Cartoon/.test(b.text)).callback_data;
      fake.pressButton({ from: alice, message: keyboard.result, data: cartoon });
      const redone = await fake.waitForCall('sendPhoto', (c) => c.status === 200 && c.params.reply_parameters?.message_id === photo.message_id, { since: before, timeoutMs: 120_000 });
      expect(redone.params.caption).toMatch(/Cartoon/);
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGKILL');
      worker.kill('SIGKILL');
      await fake.close();
    }
  }, 300_000);
});
