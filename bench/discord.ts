/**
 * Discord bot benchmark: the real bot (`startBots`, discord.js over the gateway, real worker
 * processes and models) against the fake Discord from the tests, under a burst from several users.
 * Reports what a user feels and what Discord sees:
 *   - ack: INTERACTION_CREATE dispatched → the deferred reply's callback; Discord's hard limit is
 *     3 s (the interaction fails after it), our target p99 < 1 s
 *   - button: "Another style" pressed → its ephemeral menu answered; target p99 < 1 s
 *   - result: dispatched → the reply holds the animefied photo (queueing included)
 *   - edits per job and the smallest gap between two edits of one reply (paced at ≥ 1.5 s)
 *   - the bot process's largest event-loop delay and peak RSS (the models run in workers)
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startBots } from '#src/app/bot.ts';
import { getConfig, parseConfig } from '#src/config.ts';
import { FakeDiscord, type FakeInteraction } from '../test/fakes/fake-discord.ts';
import { botBenchInputs, median, percentile, printTable, processMonitor, round1, type BenchSection } from './report.ts';

const ACK_TARGET_MS = 1000;
const DISCORD_ACK_LIMIT_MS = 3000;
const BUTTON_TARGET_MS = 1000;
const EDIT_INTERVAL_MS = 1500;
const WAIT_MS = 600_000;

export async function benchDiscord(options: { quick: boolean }): Promise<BenchSection> {
  const users = options.quick ? 3 : 6;
  const inputs = await botBenchInputs(getConfig().ANIMEFY_FIXTURES_DIR);
  const fake = await FakeDiscord.start();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'animefy-bench-discord-'));
  const bots = await startBots(
    parseConfig({
      ...process.env,
      TELEGRAM_BOT_TOKEN: '',
      DISCORD_TOKEN: fake.token,
      DISCORD_APP_ID: fake.appId,
      DISCORD_API_BASE: fake.apiBase,
      ANIMEFY_REDIS_URL: '',
      ANIMEFY_METRICS_PORT: '',
      ANIMEFY_DATA_DIR: dataDir,
      ANIMEFY_MAX_QUEUED: '1000',
    }),
  );
  const monitor = processMonitor();
  const { loop } = monitor;
  const slash = async (user: number, input: Buffer) => {
    const attachment = await fake.addAttachment('photo.jpg', input, 'image/jpeg');
    return fake.slashCommand({
      name: 'animefy',
      options: [{ name: 'image', type: 11, value: attachment }, { name: 'style', type: 3, value: 'hayao' }],
      user: fake.user(String(1_400_000_000_000_000_000n + BigInt(user)), `user${user}`),
    });
  };
  const resultOf = (interaction: FakeInteraction) => interaction.waitForOriginal((m) => m.files.length > 0, WAIT_MS);
  try {
    // Warm-up: the worker loads its models on the first job.
    const warm = await slash(999, inputs[0]);
    const warmResult = await resultOf(warm);
    const again = warmResult.components[0].components.find((c: any) => c.label === 'Another style').custom_id;

    loop.enable();
    const started = performance.now();
    // Every user sends two photos at once (the per-user cap is 2)…
    const sent: FakeInteraction[] = [];
    for (let u = 0; u < users; u++) for (let k = 0; k < 2; k++) sent.push(await slash(u, inputs[(u + k) % inputs.length]));
    // …while as many others press "Another style" on the warm-up result and pick a style.
    const presses: FakeInteraction[] = [];
    const picks: FakeInteraction[] = [];
    for (let u = 0; u < users; u++) {
      const user = fake.user(String(1_400_000_000_000_001_000n + BigInt(u)), `picker${u}`);
      const press = await fake.button({ customId: again, message: warmResult, user });
      presses.push(press);
      await press.waitForAck(10_000);
      const menu = press.original()!;
      picks.push(await fake.select({ customId: menu.components[0].components[0].custom_id, values: ['shinkai'], message: menu, user }));
    }

    const jobs = [...sent, ...picks];
    const finished = await Promise.all(jobs.map((i) => resultOf(i)));
    const totalS = (performance.now() - started) / 1000;
    loop.disable();

    const acks = jobs.map((i) => i.ackMs ?? NaN);
    const buttons = presses.map((i) => i.ackMs ?? NaN);
    const results = jobs.map((i, n) => lastEditAt(fake, finished[n].id) - i.dispatchedAt);
    const edits = fake.requests.filter((r) => r.route === 'PATCH /webhooks/:app/:token/messages/@original' && r.status === 200);
    // Gaps between two progress edits of one reply (the result's edit goes out as soon as it is ready).
    const gaps: number[] = [];
    const byToken = new Map<string, number[]>();
    for (const e of edits.filter((r) => r.files.length === 0)) {
      const token = e.path.split('/')[3];
      byToken.set(token, [...(byToken.get(token) ?? []), e.at]);
    }
    for (const times of byToken.values()) for (let i = 1; i < times.length; i++) gaps.push(times[i] - times[i - 1]);

    const summary = {
      users: users * 2,
      jobs: jobs.length,
      ackP50Ms: Math.round(median(acks)),
      ackP99Ms: Math.round(percentile(acks, 99)),
      ackTargetMs: ACK_TARGET_MS,
      ackLimitMs: DISCORD_ACK_LIMIT_MS,
      buttonP50Ms: Math.round(median(buttons)),
      buttonP99Ms: Math.round(percentile(buttons, 99)),
      buttonTargetMs: BUTTON_TARGET_MS,
      resultP50S: round1(median(results) / 1000),
      resultMaxS: round1(Math.max(...results) / 1000),
      totalS: round1(totalS),
      jobsPerMinute: round1((jobs.length / totalS) * 60),
      editsPerJob: round1(edits.length / jobs.length),
      minEditGapMs: gaps.length ? Math.min(...gaps) : null,
      botLoopDelayMaxMs: Math.round(loop.max / 1e6),
      botPeakRssMb: monitor.peakRssMb(),
    };
    printTable('Discord bot under a burst (fake Discord over the gateway, real workers; times from the interaction being dispatched)', [
      { measure: 'ack (deferred reply) p50 / p99', value: `${summary.ackP50Ms} / ${summary.ackP99Ms} ms`, target: `< ${ACK_TARGET_MS} ms (Discord's limit ${DISCORD_ACK_LIMIT_MS} ms)` },
      { measure: '"Another style" answered p50 / p99', value: `${summary.buttonP50Ms} / ${summary.buttonP99Ms} ms`, target: `< ${BUTTON_TARGET_MS} ms` },
      { measure: 'result p50 / max (queueing included)', value: `${summary.resultP50S} / ${summary.resultMaxS} s`, target: '' },
      { measure: `jobs (${jobs.length}) per minute`, value: String(summary.jobsPerMinute), target: '' },
      { measure: 'reply edits per job / min gap between progress edits', value: `${summary.editsPerJob} / ${summary.minEditGapMs} ms`, target: `progress paced ${EDIT_INTERVAL_MS} ms apart` },
      { measure: 'bot event-loop delay max', value: `${summary.botLoopDelayMaxMs} ms`, target: '< 50 ms' },
      { measure: 'bot peak RSS', value: `${summary.botPeakRssMb} MB`, target: '' },
    ]);
    return { name: 'discord', results: [summary], peakRssMb: summary.botPeakRssMb };
  } finally {
    monitor.stop();
    await bots.stop();
    await fake.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

/** When the reply got its file: the last successful edit of that message. */
function lastEditAt(fake: FakeDiscord, messageId: string): number {
  const edits = fake.requests.filter((r) => r.method === 'PATCH' && r.status === 200 && r.response?.id === messageId);
  return edits.length ? edits[edits.length - 1].at : NaN;
}
