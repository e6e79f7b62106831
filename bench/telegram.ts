/**
 * Telegram bot benchmark: the real bot (`startBots`, grammY, runner, real worker processes and
 * models) long polling the fake Bot API server from the tests, under a burst from several users.
 * Reports what a user feels and what Telegram sees:
 *   - ack: update sent → the bot's first reply (its status message); target p99 < 1 s
 *   - button: a style button pressed → answerCallbackQuery; target p99 < 1 s (Telegram shows a
 *     spinner until then)
 *   - result: update sent → the animefied photo arrives (queueing included)
 *   - edits per job and the smallest gap between two edits in one chat (paced at ≥ 2 s)
 *   - the bot process's largest event-loop delay and peak RSS (the models run in workers)
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startBots } from '#src/app/bot.ts';
import { getConfig, parseConfig } from '#src/config.ts';
import { FakeTelegram, type FakeChat, type FakeUser, type RecordedCall } from '../test/fakes/fake-telegram.ts';
import { botBenchInputs, median, percentile, printTable, processMonitor, round1, type BenchSection } from './report.ts';

const ACK_TARGET_MS = 1000;
const BUTTON_TARGET_MS = 1000;

export async function benchTelegram(options: { quick: boolean }): Promise<BenchSection> {
  const users = options.quick ? 3 : 6;
  const inputs = await botBenchInputs(getConfig().ANIMEFY_FIXTURES_DIR);
  const fake = await FakeTelegram.start();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'animefy-bench-telegram-'));
  const bots = await startBots(
    parseConfig({
      ...process.env,
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      TELEGRAM_WEBHOOK_URL: '',
      ANIMEFY_REDIS_URL: '',
      ANIMEFY_METRICS_PORT: '',
      ANIMEFY_DATA_DIR: dataDir,
      ANIMEFY_MAX_QUEUED: '1000',
    }),
  );
  const monitor = processMonitor();
  const { loop } = monitor;
  try {
    // Warm-up: the worker loads its models on the first job.
    const warm = await fake.userPhoto({ chat: chatOf(999), from: userOf(999), bytes: inputs[0], caption: 'hayao' });
    await waitReply(fake, warm, 'sendPhoto');

    loop.enable();
    const started = performance.now();
    const sent: { message: any; at: number }[] = [];
    // Every user sends two captioned photos at once (the per-user cap is 2).
    for (let u = 0; u < users; u++) {
      for (let k = 0; k < 2; k++) {
        const message = await fake.userPhoto({ chat: chatOf(u), from: userOf(u), bytes: inputs[(u + k) % inputs.length], caption: 'hayao' });
        sent.push({ message, at: Date.now() }); // the fake's clock: calls are stamped with Date.now()
      }
    }
    // Meanwhile users without a caption get a keyboard and press a style.
    const presses: string[] = [];
    for (let u = 0; u < users; u++) {
      const message = await fake.userPhoto({ chat: chatOf(100 + u), from: userOf(100 + u), bytes: inputs[u % inputs.length] });
      const keyboard = await waitReply(fake, message, 'sendMessage');
      const data = keyboard.params.reply_markup.inline_keyboard.flat()[0].callback_data;
      presses.push(fake.pressButton({ from: userOf(100 + u), message: keyboard.result, data }));
    }

    const acks: number[] = [];
    const results: number[] = [];
    for (const { message, at } of sent) {
      const status = await waitReply(fake, message, 'sendMessage');
      acks.push(status.at - at);
      const result = await waitReply(fake, message, 'sendPhoto');
      results.push(result.at - at);
    }
    for (let u = 0; u < users; u++) await fake.waitForCall('sendPhoto', (c) => Number(c.params.chat_id) === chatOf(100 + u).id, { timeoutMs: 600_000 });
    const totalS = (performance.now() - started) / 1000;
    loop.disable();
    const buttons = presses.map((id) => fake.callbackAnswer(id)?.answeredAfterMs ?? NaN);

    // Status edits, per chat: how many, and how close together.
    const edits = fake.callsTo('editMessageText');
    const gaps: number[] = [];
    const byChat = new Map<number, RecordedCall[]>();
    for (const e of edits) byChat.set(Number(e.params.chat_id), [...(byChat.get(Number(e.params.chat_id)) ?? []), e]);
    for (const list of byChat.values()) for (let i = 1; i < list.length; i++) gaps.push(list[i].at - list[i - 1].at);
    const jobs = sent.length + users;

    const summary = {
      users: users * 2,
      jobs,
      ackP50Ms: Math.round(median(acks)),
      ackP99Ms: Math.round(percentile(acks, 99)),
      ackTargetMs: ACK_TARGET_MS,
      buttonP50Ms: Math.round(median(buttons)),
      buttonP99Ms: Math.round(percentile(buttons, 99)),
      buttonTargetMs: BUTTON_TARGET_MS,
      resultP50S: round1(median(results) / 1000),
      resultMaxS: round1(Math.max(...results) / 1000),
      totalS: round1(totalS),
      jobsPerMinute: round1((jobs / totalS) * 60),
      editsPerJob: round1(edits.length / jobs),
      minEditGapMs: gaps.length ? Math.min(...gaps) : null,
      botLoopDelayMaxMs: Math.round(loop.max / 1e6),
      botPeakRssMb: monitor.peakRssMb(),
    };
    printTable('Telegram bot under a burst (fake Bot API, real workers; times from the update being sent)', [
      { measure: 'ack (status message) p50 / p99', value: `${summary.ackP50Ms} / ${summary.ackP99Ms} ms`, target: `< ${ACK_TARGET_MS} ms` },
      { measure: 'button answered p50 / p99', value: `${summary.buttonP50Ms} / ${summary.buttonP99Ms} ms`, target: `< ${BUTTON_TARGET_MS} ms` },
      { measure: 'result p50 / max (queueing included)', value: `${summary.resultP50S} / ${summary.resultMaxS} s`, target: '' },
      { measure: `jobs (${jobs}) per minute`, value: String(summary.jobsPerMinute), target: '' },
      { measure: 'status edits per job / min gap in a chat', value: `${summary.editsPerJob} / ${summary.minEditGapMs} ms`, target: 'paced 2000 ms apart' },
      { measure: 'bot event-loop delay max', value: `${summary.botLoopDelayMaxMs} ms`, target: '< 50 ms' },
      { measure: 'bot peak RSS', value: `${summary.botPeakRssMb} MB`, target: '' },
    ]);
    return { name: 'telegram', results: [summary], peakRssMb: summary.botPeakRssMb };
  } finally {
    monitor.stop();
    await bots.stop();
    await fake.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

function userOf(n: number): FakeUser {
  return { id: 5000 + n, first_name: `User ${n}` };
}

function chatOf(n: number): FakeChat {
  return { id: 5000 + n, type: 'private', first_name: `User ${n}` };
}

function waitReply(fake: FakeTelegram, message: any, method: string): Promise<RecordedCall> {
  return fake.waitForCall(
    method,
    (c) => c.status === 200 && Number(c.params.chat_id) === message.chat.id && c.params.reply_parameters?.message_id === message.message_id,
    { timeoutMs: 600_000 },
  );
}
