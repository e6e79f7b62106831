/**
 * The Discord bot end to end: `startBots` (what `npm start` runs) with the real discord.js client
 * logged into a fake Discord on 127.0.0.1 (test/bots/discord/fake-discord.ts: gateway, REST,
 * webhooks, CDN), real fixtures and real models in real worker processes. Scenarios run in order
 * against one bot.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryBotState } from '#src/bots/state/open.ts';
import { startDiscordBot } from '#src/bots/discord/start.ts';
import { startBots, type RunningBots } from '#src/app/bot.ts';
import { parseConfig } from '#src/config.ts';
import { AnimefyError, ERROR_MESSAGES } from '#src/errors.ts';
import { probeMedia } from '#src/pipeline/media/probe.ts';
import { STYLE_IDS } from '#src/pipeline/styles.ts';
import { fixture, fixturePath } from '../../helpers/fixtures.ts';
import { makeMedia, paths, scratchDir } from '../../helpers/make-media.ts';
import { FakeDiscord, type FakeInteraction, type FakeMessage, type FakeUserObject } from '../../fakes/fake-discord.ts';

const EPHEMERAL = 64;
const JOB_TIMEOUT = 120_000;
/** Every permission bit (the fake's default for the bot). */
const ALL_PERMISSIONS = (1n << 51n) - 1n;
const VIEW_AND_SEND = (1n << 10n) | (1n << 11n);

let fake: FakeDiscord;
let bots: RunningBots;
let dataDir: string;
let scratch: string;
let alice: FakeUserObject;
let bob: FakeUserObject;

beforeAll(async () => {
  fake = await FakeDiscord.start();
  alice = fake.user('1300000000000000001', 'alice');
  bob = fake.user('1300000000000000002', 'bob');
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'animefy-discord-test-'));
  scratch = await scratchDir();
  const config = parseConfig({
    ...process.env,
    TELEGRAM_BOT_TOKEN: '',
    DISCORD_TOKEN: fake.token,
    DISCORD_APP_ID: fake.appId,
    DISCORD_GUILD_ID: '',
    DISCORD_REGISTER_COMMANDS: 'true',
    DISCORD_API_BASE: fake.apiBase,
    // Embed images from the fake's CDN are allowed; nothing else is.
    DISCORD_MEDIA_HOSTS: fake.cdnOrigin,
    DISCORD_MAX_INPUT_MB: '5',
    ANIMEFY_REDIS_URL: '',
    ANIMEFY_METRICS_PORT: '',
    ANIMEFY_DATA_DIR: dataDir,
    ANIMEFY_CONCURRENCY: '1',
    // Two may wait: a user's third job at once meets the per-user cap (2) before the queue bound.
    ANIMEFY_MAX_QUEUED: '2',
    ANIMEFY_WORKING_SIZE: '512',
    ANIMEFY_VIDEO_WORKING_SIZE: '160',
    ANIMEFY_RATE_LIMIT_JOBS: '4',
    ANIMEFY_SHUTDOWN_GRACE_S: '0',
  });
  bots = await startBots(config, { discord: { editIntervalMs: 500 } });
}, 120_000);

afterAll(async () => {
  await bots?.stop();
  await fake?.close();
  await fs.rm(dataDir, { recursive: true, force: true });
  await fs.rm(scratch, { recursive: true, force: true });
});

const attachmentOption = (attachment: any) => ({ name: 'image', type: 11, value: attachment });

/** `/animefy image:<file> …` as `user`. */
async function animefy(file: { name: string; data: Buffer; type: string }, options: Record<string, string | boolean> = {}, user = alice) {
  const attachment = await fake.addAttachment(file.name, file.data, file.type);
  const opts: any[] = [attachmentOption(attachment)];
  for (const [name, value] of Object.entries(options)) opts.push({ name, type: typeof value === 'boolean' ? 5 : 3, value });
  const interaction = await fake.slashCommand({ name: 'animefy', options: opts, user });
  return { interaction, attachment };
}

const photo = () => ({ name: 'portrait.jpg', data: fixture('portrait_frontal_1.jpg'), type: 'image/jpeg' });

/** The reply once it holds a file. */
function resultOf(interaction: FakeInteraction): Promise<FakeMessage> {
  return interaction.waitForOriginal((m) => m.files.length > 0, JOB_TIMEOUT);
}

/** The ephemeral message the requester got: the reply itself or a follow-up. */
async function ephemeralText(interaction: FakeInteraction, timeoutMs = JOB_TIMEOUT): Promise<string> {
  const found = await fake.waitFor(
    () => {
      const immediate = interaction.callbacks.find((c) => c.type === 4 && (c.data?.flags & EPHEMERAL) !== 0);
      if (immediate) return String(immediate.data.content);
      const followup = interaction.followups.find((m) => m.ephemeral);
      return followup?.content;
    },
    timeoutMs,
    () => `an ephemeral answer to ${interaction.id}`,
  );
  return found;
}

function buttonIds(message: FakeMessage): { label: string; id: string }[] {
  return (message.components ?? []).flatMap((row: any) => row.components.map((c: any) => ({ label: c.label ?? c.placeholder, id: c.custom_id })));
}

function customId(message: FakeMessage, label: RegExp): string {
  const found = buttonIds(message).find((b) => label.test(b.label ?? ''));
  if (!found) throw new Error(`no component ${label} in ${JSON.stringify(buttonIds(message))}`);
  return found.id;
}

async function imageSize(bytes: Buffer): Promise<[number, number]> {
  const meta = await sharp(bytes).metadata();
  return [meta.autoOrient?.width ?? meta.width!, meta.autoOrient?.height ?? meta.height!];
}

async function probeBytes(bytes: Buffer, name: string) {
  const file = path.join(scratch, name);
  await fs.writeFile(file, bytes);
  return probeMedia(paths, file);
}

const text = (code: keyof typeof ERROR_MESSAGES, params: Record<string, string> = {}) => new AnimefyError(code, params).message;

describe('Discord bot (real discord.js, fake Discord)', () => {
  it('connects with the Guilds intent only and registers its commands with one bulk overwrite', () => {
    expect(fake.identifies).toHaveLength(1);
    expect(fake.identifies[0].intents).toBe(1);
    const puts = fake.requests.filter((r) => r.method === 'PUT');
    expect(puts.map((r) => r.route)).toEqual(['PUT /applications/:app/commands']);
    expect(fake.commands.global.map((c) => c.name).sort()).toEqual(['Animefy', 'Landmarks', 'about', 'animefy', 'emoji', 'erase', 'landmarks', 'result', 'smile', 'sticker', 'style', 'styles']);
    const style = fake.commands.global.find((c) => c.name === 'animefy').options.find((o: any) => o.name === 'style');
    expect(style.choices.map((c: any) => c.value)).toEqual(STYLE_IDS);
  });

  it('/about and /styles answer at once, only to the asker', async () => {
    const about = await fake.slashCommand({ name: 'about' });
    const answer = await about.waitForAck();
    expect(answer.type).toBe(4);
    expect(answer.data.flags & EPHEMERAL).toBe(EPHEMERAL);
    expect(answer.data.content).toMatch(/non-commercial/);
    expect(answer.data.content).toMatch(/not kept/);
    expect(answer.data.content).toContain('files up to 5 MB; GIFs and videos up to 15 s');
    const styles = await fake.slashCommand({ name: 'styles' });
    expect((await styles.waitForAck()).data.content).toContain('Shinkai');
  });

  let result: FakeMessage;
  let again: FakeMessage;
  let source: { interaction: FakeInteraction; attachment: any };

  it('/animefy with a photo: deferred within 3 s, progress shown, then the reply becomes the image at its size', async () => {
    source = await animefy(photo(), { style: 'shinkai' });
    const ack = await source.interaction.waitForAck();
    expect(ack.type).toBe(5);
    expect(ack.ms).toBeLessThan(3000);
    expect(ack.data?.flags ?? 0).toBe(0);
    result = await resultOf(source.interaction);
    expect(await imageSize(result.files[0].data)).toEqual(await imageSize(fixture('portrait_frontal_1.jpg')));
    expect(result.files[0].filename).toMatch(/^animefy-shinkai\.(jpg|png)$/);
    expect(result.content).toContain('Shinkai');
    // The place in line or the stage was shown before the result.
    expect(result.history.some((h) => /Queued|Starting|%/.test(h))).toBe(true);
    // The face model drew her face, so "Keep faces" is offered too.
    expect(buttonIds(result).map((b) => b.label)).toEqual(['Another style', 'Keep faces', 'Upscale ×2', 'Delete']);
    expect(fake.downloads(source.attachment.url)).toBe(1);
    // No request the fake does not know (a wrong route would show here).
    expect(fake.unhandled).toEqual([]);
  }, JOB_TIMEOUT);

  it('"Another style" opens a menu; picking a style fetches the original again and posts a new result', async () => {
    const press = await fake.button({ customId: customId(result, /Another style/), message: result, user: bob });
    const menuAck = await press.waitForAck();
    expect(menuAck.type).toBe(4);
    expect(menuAck.data.flags & EPHEMERAL).toBe(EPHEMERAL);
    const menuMessage = press.original()!;
    const menu = menuMessage.components[0].components[0];
    expect(menu.options.map((o: any) => o.value)).toEqual(STYLE_IDS);

    const pick = await fake.select({ customId: menu.custom_id, values: ['cartoon'], message: menuMessage, user: bob });
    expect((await pick.waitForAck()).type).toBe(5);
    again = await resultOf(pick);
    expect(again.content).toContain('Cartoon');
    expect(await imageSize(again.files[0].data)).toEqual(await imageSize(fixture('portrait_frontal_1.jpg')));
    expect(fake.downloads(source.attachment.url)).toBe(2);

    // "Upscale ×2" on that result: the same file again, twice the size, and no second upscale offered.
    const hana = fake.user('1300000000000000008', 'hana');
    const upscale = await fake.button({ customId: customId(again, /Upscale/), message: again, user: hana });
    expect((await upscale.waitForAck()).type).toBe(5);
    const bigger = await resultOf(upscale);
    const [w, h] = await imageSize(fixture('portrait_frontal_1.jpg'));
    expect(await imageSize(bigger.files[0].data)).toEqual([2 * w, 2 * h]);
    expect(bigger.content).toContain('×2');
    expect(buttonIds(bigger).map((b) => b.label)).toEqual(['Another style', 'Keep faces', 'Delete']);
    expect(fake.downloads(source.attachment.url)).toBe(3);

    // "Keep faces": the same file and style again, faces kept, and the way back offered.
    const ivan = fake.user('1300000000000000010', 'ivan');
    const keep = await fake.button({ customId: customId(again, /Keep faces/), message: again, user: ivan });
    expect((await keep.waitForAck()).type).toBe(5);
    const kept = await resultOf(keep);
    expect(kept.content).toContain('Cartoon');
    expect(kept.content).toContain('faces kept');
    expect(buttonIds(kept).map((b) => b.label)).toContain('Anime faces');
    expect(fake.downloads(source.attachment.url)).toBe(4);
  }, 3 * JOB_TIMEOUT);

  it('"Delete" is refused for someone else and done for the requester', async () => {
    const deleteId = customId(result, /Delete/);
    const byBob = await fake.button({ customId: deleteId, message: result, user: bob });
    expect(await ephemeralText(byBob, 5000)).toContain(text('NOT_YOUR_BUTTON'));
    expect(fake.message(result.id)!.deleted).toBe(false);

    const byAlice = await fake.button({ customId: deleteId, message: result, user: alice });
    await fake.waitFor(() => fake.message(result.id)!.deleted, 5000, () => 'the result deleted');
    expect(byAlice.callbacks[0].type).toBe(6);
  });

  it('a file Discord no longer serves: "Another style" later says so; a URL past its expiry is not even fetched', async () => {
    fake.expireAttachment(source.attachment.url);
    const press = await fake.button({ customId: customId(again, /Another style/), message: again, user: bob });
    const menuMessage = await press.waitForOriginal();
    const menu = menuMessage.components[0].components[0];
    const pick = await fake.select({ customId: menu.custom_id, values: ['shinkai'], message: menuMessage, user: bob });
    expect((await pick.waitForAck()).type).toBe(5);
    expect(await ephemeralText(pick, 10_000)).toBe(`⚠️ ${text('DISCORD_FILE_GONE')}`);

    const short = await fake.addAttachment('short.jpg', fixture('portrait_frontal_1.jpg'), 'image/jpeg', { ttlMs: 1000 });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const late = await fake.slashCommand({ name: 'animefy', options: [attachmentOption(short)], user: bob });
    expect(await ephemeralText(late, 10_000)).toContain(text('DISCORD_FILE_GONE'));
    expect(fake.downloads(short.url)).toBe(0);
  });

  it('a GIF comes back as a GIF of the same length', async () => {
    const { interaction } = await animefy({ name: 'clip.gif', data: fixture('face_clip.gif'), type: 'image/gif' });
    expect((await interaction.waitForAck()).ms).toBeLessThan(3000);
    const gif = await resultOf(interaction);
    expect(gif.files[0].filename).toMatch(/\.gif$/);
    const probe = await probeBytes(gif.files[0].data, 'result.gif');
    expect(probe.duration).toBeGreaterThan(2.5);
    expect(probe.duration).toBeLessThan(3.5);
    // Frames were reported while it ran.
    expect(gif.history.some((h) => /frame \d+ of \d+/.test(h))).toBe(true);
  }, JOB_TIMEOUT);

  it('a file that is not a picture gets a friendly ephemeral answer and is never fetched', async () => {
    const { interaction, attachment } = await animefy({ name: 'notes.txt', data: Buffer.from('hello'), type: 'text/plain; charset=utf-8' });
    expect(await ephemeralText(interaction, 5000)).toContain(text('UNSUPPORTED_MEDIA', { kind: 'text' }));
    expect(fake.downloads(attachment.url)).toBe(0);

    const big = await animefy({ name: 'huge.png', data: Buffer.alloc(6 * 1024 * 1024, 1), type: 'image/png' });
    expect(await ephemeralText(big.interaction, 5000)).toMatch(/I can only fetch files up to 5 MB/);
    expect(fake.downloads(big.attachment.url)).toBe(0);
  });

  it('a damaged picture: the public "thinking…" goes away and only the requester sees why; the bot keeps serving', async () => {
    const broken = fixture('portrait_frontal_1.jpg').subarray(0, 2000);
    const { interaction } = await animefy({ name: 'broken.jpg', data: broken, type: 'image/jpeg' }, {}, bob);
    expect((await interaction.waitForAck()).type).toBe(5);
    const message = await ephemeralText(interaction);
    expect([text('CORRUPT_IMAGE'), text('NOT_AN_IMAGE')].some((t) => message.includes(t))).toBe(true);
    // Removed only after the ephemeral message arrived.
    await fake.waitFor(() => interaction.original()?.deleted, 5000, () => 'the public reply deleted');
  }, JOB_TIMEOUT);

  it('/style sets the default for managers only; the Animefy message menu uses it and offers "Another style"', async () => {
    const styleOption = (value: string) => [{ name: 'style', type: 3, value }];
    const refused = await fake.slashCommand({ name: 'style', options: styleOption('shinkai'), user: bob, memberPermissions: '0' });
    expect(await ephemeralText(refused, 5000)).toContain(text('MANAGERS_ONLY'));
    const set = await fake.slashCommand({ name: 'style', options: styleOption('cartoon'), user: alice });
    expect((await set.waitForAck()).data.content).toMatch(/Cartoon is now this server's default/);

    const attachment = await fake.addAttachment('friend.jpg', fixture('portrait_frontal_2.jpg'), 'image/jpeg');
    const menu = await fake.contextMenu({ name: 'Animefy', message: { content: 'look at this', attachments: [attachment] }, user: bob });
    expect((await menu.waitForAck()).ms).toBeLessThan(3000);
    const reply = await resultOf(menu);
    expect(reply.content).toContain('Cartoon');
    expect(buttonIds(reply).map((b) => b.label)).toContain('Another style');
  }, JOB_TIMEOUT);

  it('the message menu fetches embed images only from allowed hosts', async () => {
    const allowed = fake.serveRaw('/embeds/landscape.jpg', fixture('landscape_1.jpg'), 'image/jpeg');
    const ok = await fake.contextMenu({ name: 'Animefy', message: { embeds: [{ image: { url: 'https://example.com/landscape.jpg', proxy_url: allowed } }] }, user: bob });
    const reply = await resultOf(ok);
    expect(fake.downloads(allowed)).toBe(1);
    expect(await imageSize(reply.files[0].data)).toEqual(await imageSize(fixture('landscape_1.jpg')));

    // The same fake server under another loopback address: not on the allow-list.
    const internal = allowed.replace('127.0.0.1', '127.0.0.2');
    const refused = await fake.contextMenu({ name: 'Animefy', message: { embeds: [{ image: { url: internal } }] }, user: bob });
    expect(await ephemeralText(refused, 5000)).toContain(text('MEDIA_HOST_NOT_ALLOWED'));
    expect(fake.downloads(allowed)).toBe(1);

    const empty = await fake.contextMenu({ name: 'Animefy', message: { content: 'just words' }, user: bob });
    expect(await ephemeralText(empty, 5000)).toContain(text('NO_MEDIA_IN_MESSAGE'));
  }, JOB_TIMEOUT);

  it('the message menu finds the file of a forwarded message (message_snapshots); a spoiler comes back as a spoiler', async () => {
    const attachment = await fake.addAttachment('SPOILER_friend.jpg', fixture('portrait_frontal_2.jpg'), 'image/jpeg');
    const quinn = fake.user('1300000000000000018', 'quinn');
    const menu = await fake.contextMenu({ name: 'Animefy', message: { forwardOf: { content: 'look', attachments: [attachment] } }, user: quinn });
    const reply = await resultOf(menu);
    expect(fake.downloads(attachment.url)).toBe(1);
    expect(reply.files[0].filename).toMatch(/^SPOILER_animefy-cartoon\.(jpg|png)$/);
    expect(reply.attachments[0].flags).toBe(8);
    expect(await imageSize(reply.files[0].data)).toEqual(await imageSize(fixture('portrait_frontal_2.jpg')));
  }, JOB_TIMEOUT);

  it('three /animefy at once from one user: the third, over the per-user limit, is told so after the public defer', async () => {
    const lena = fake.user('1300000000000000011', 'lena');
    const small = { name: 'small.jpg', data: await sharp(fixture('portrait_frontal_1.jpg')).resize(256).jpeg().toBuffer(), type: 'image/jpeg' };
    const runs = await Promise.all([1, 2, 3].map(() => animefy(small, {}, lena)));
    const outcomes = await Promise.all(
      runs.map(({ interaction }) =>
        fake.waitFor(() => (interaction.original()?.files.length ? 'result' : interaction.followups.find((m) => m.ephemeral)?.content), JOB_TIMEOUT, () => `an outcome of ${interaction.id}`),
      ),
    );
    expect(outcomes.filter((o) => o === 'result')).toHaveLength(2);
    const refused = runs[outcomes.findIndex((o) => o !== 'result')].interaction;
    expect(outcomes.find((o) => o !== 'result')).toBe(`⚠️ ${text('USER_BUSY', { limit: '2' })}`);
    // Deferred publicly, then: the reply edited with the error, the ephemeral follow-up, and only then the reply removed.
    expect(refused.callbacks[0]).toMatchObject({ type: 5 });
    expect(refused.callbacks[0].data?.flags ?? 0).toBe(0);
    expect(refused.original()).toMatchObject({ deleted: true, history: ['', `⚠️ ${text('USER_BUSY', { limit: '2' })}`] });
    expect(refused.followupEdits).toBe(0);
  }, JOB_TIMEOUT);

  it('queue full: still acknowledged in time, then a polite ephemeral message; a job outliving its token is posted in the channel', async () => {
    const carol = fake.user('1300000000000000003', 'carol');
    const dave = fake.user('1300000000000000004', 'dave');
    // The fixture's first 1.5 s (with its sound): long enough to hold the queue, short enough to be quick.
    const clip = await makeMedia(scratch, 'talking-1.5s.mp4', ['-i', fixturePath('talking_clip.mp4'), '-t', '1.5', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac']);
    const video = await animefy({ name: 'talking.mp4', data: await fs.readFile(clip), type: 'video/mp4' }, {}, alice);
    await video.interaction.waitForOriginal((m) => /%|Starting/.test(m.content), JOB_TIMEOUT);
    const queued = await animefy(photo(), {}, carol);
    await queued.interaction.waitForOriginal((m) => /Queued/.test(m.content), 10_000);
    const queued2 = await animefy(photo(), {}, fake.user('1300000000000000013', 'mia'));
    await queued2.interaction.waitForOriginal((m) => /Queued/.test(m.content), 10_000);
    const full = await animefy(photo(), {}, dave);
    const ack = await full.interaction.waitForAck();
    expect(ack.type).toBe(5);
    expect(ack.ms).toBeLessThan(3000);
    expect(await ephemeralText(full.interaction, 10_000)).toMatch(/very busy/);

    // The video's interaction token expires while it runs (Discord keeps them 15 minutes).
    fake.expireToken(video.interaction);
    const posted = await fake.waitForMessage((m) => m.channelId === fake.channelId && m.content.includes(`<@${alice.id}>`) && m.files.length > 0, JOB_TIMEOUT);
    // The mention pings only the requester.
    const post = fake.requests.find((r) => r.route === 'POST /channels/:channel/messages' && r.response?.id === posted.id);
    expect(post?.payload?.allowed_mentions).toEqual({ users: [alice.id] });
    const probe = await probeBytes(posted.files[0].data, 'late.mp4');
    expect(probe.audio).toBeDefined();
    expect(probe.duration).toBeGreaterThan(1.2);
    expect(probe.duration).toBeLessThan(1.8);
    expect(buttonIds(posted).map((b) => b.label)).toContain('Another style');

    // The queued ones still end normally.
    for (const { interaction } of [queued, queued2]) expect((await resultOf(interaction)).files[0].data.byteLength).toBeGreaterThan(1000);
  }, 3 * JOB_TIMEOUT);

  it('a private job whose token is gone arrives as a DM', async () => {
    const erin = fake.user('1300000000000000005', 'erin');
    const { interaction } = await animefy(photo(), { private: true }, erin);
    const ack = await interaction.waitForAck();
    expect(ack.data.flags & EPHEMERAL).toBe(EPHEMERAL);
    fake.expireToken(interaction);
    const dm = await fake.waitFor(() => fake.dmsTo(erin.id).find((m) => m.files.length > 0), JOB_TIMEOUT, () => 'a DM with the result');
    // The server's default (set with /style above).
    expect(dm.content).toContain('Cartoon');
    // Nothing was posted in the channel for a private job.
    expect(fake.messages(fake.channelId).some((m) => m.content.includes(`<@${erin.id}>`))).toBe(false);
  }, JOB_TIMEOUT);

  it('a late result the bot may not post (50013) for a user whose DMs are closed (50007) waits for /result, kept in files', async () => {
    const kim = fake.user('1300000000000000012', 'kim');
    fake.closeDms(kim.id);
    const { interaction } = await animefy(photo(), {}, kim);
    expect((await interaction.waitForAck()).type).toBe(5);
    // Taken away after the command (whose app_permissions still allowed posting files): Discord refuses the post.
    fake.setBotPermissions(fake.channelId, VIEW_AND_SEND);
    fake.expireToken(interaction);
    const posts = () => fake.requests.filter((r) => r.route === 'POST /channels/:channel/messages' && r.at >= interaction.dispatchedAt);
    await fake.waitFor(() => posts().find((r) => r.response?.code === 50007), JOB_TIMEOUT, () => 'the refused DM');
    fake.setBotPermissions(fake.channelId, ALL_PERMISSIONS);
    expect(posts().map((r) => [r.path, r.response?.code])).toEqual([
      [`/channels/${fake.channelId}/messages`, 50013],
      [`/channels/${fake.dmChannel(kim.id).id}/messages`, 50007],
    ]);
    const results = path.join(dataDir, 'results');
    await expect.poll(async () => (await fs.readdir(results)).length, { timeout: 5000 }).toBe(1);

    const bobAsks = await fake.slashCommand({ name: 'result', user: bob });
    expect((await bobAsks.waitForOriginal((m) => !m.loading)).content).toContain('Nothing is waiting for you');
    const asked = await fake.slashCommand({ name: 'result', user: kim });
    const handed = await asked.waitForOriginal((m) => m.files.length > 0, 10_000);
    expect(handed.ephemeral).toBe(true);
    expect(handed.content).toContain('Cartoon');
    expect(await imageSize(handed.files[0].data)).toEqual(await imageSize(fixture('portrait_frontal_1.jpg')));
    // Handed over once, then forgotten.
    await expect.poll(() => fs.readdir(results), { timeout: 5000 }).toEqual([]);
    const twice = await fake.slashCommand({ name: 'result', user: kim });
    expect((await twice.waitForOriginal((m) => !m.loading)).content).toContain(text('NO_PENDING_RESULT', { hours: '24' }));
  }, JOB_TIMEOUT);

  it('in a group DM, or a server where only the user installed the app, a late result goes by DM without trying the channel', async () => {
    for (const [place, id] of [['group-dm', '1300000000000000014'], ['guild-user-install', '1300000000000000015']] as const) {
      const user = fake.user(id, place);
      const attachment = await fake.addAttachment('portrait.jpg', fixture('portrait_frontal_1.jpg'), 'image/jpeg');
      const interaction = await fake.slashCommand({ name: 'animefy', options: [attachmentOption(attachment)], user, place });
      expect((await interaction.waitForAck()).type).toBe(5);
      fake.expireToken(interaction);
      const dm = await fake.waitFor(() => fake.dmsTo(user.id).find((m) => m.files.length > 0), JOB_TIMEOUT, () => `a DM with the result (${place})`);
      expect(dm.content).toContain('Here is your result');
      const channel = place === 'group-dm' ? fake.groupDmId : fake.foreignChannelId;
      expect(fake.requests.filter((r) => r.path === `/channels/${channel}/messages`)).toEqual([]);
    }
  }, 2 * JOB_TIMEOUT);

  it('a minute before the token expires the reply says where the result will come, and it comes there', async () => {
    // A second bot on the same queue, with a 1 s token lifetime: the handover happens after 0.75 s,
    // before the photo is done (the models alone take longer).
    const fake2 = await FakeDiscord.start();
    const config2 = parseConfig({ DISCORD_TOKEN: fake2.token, DISCORD_APP_ID: fake2.appId, DISCORD_API_BASE: fake2.apiBase, DISCORD_REGISTER_COMMANDS: 'false', ANIMEFY_DATA_DIR: path.join(dataDir, 'bot2') });
    const bot2 = await startDiscordBot(config2, bots.service.queue, memoryBotState(), { tokenTtlMs: 1000, editIntervalMs: 500 });
    try {
      const attachment = await fake2.addAttachment('portrait.jpg', fixture('portrait_frontal_1.jpg'), 'image/jpeg');
      const interaction = await fake2.slashCommand({ name: 'animefy', options: [attachmentOption(attachment)] });
      const handedOver = await interaction.waitForOriginal((m) => /taking a while/.test(m.content), 10_000);
      expect(handedOver.content).toContain('post it in this channel');
      expect(buttonIds(handedOver).map((b) => b.label)).toEqual(['Get my result']);
      const editsAtHandover = handedOver.edits;
      const posted = await fake2.waitForMessage((m) => m.content.includes(`<@${interaction.payload.member.user.id}>`) && m.files.length > 0, JOB_TIMEOUT);
      expect(await imageSize(posted.files[0].data)).toEqual(await imageSize(fixture('portrait_frontal_1.jpg')));
      // Nothing tried the expired token after the handover.
      expect(interaction.original()!.edits).toBe(editsAtHandover);
      expect(fake2.requests.filter((r) => r.status === 401)).toEqual([]);
    } finally {
      await bot2.stop();
      await fake2.close();
    }
  }, JOB_TIMEOUT);

  it('where the bot may not post files and DMs are closed, the handover says so and its "Get my result" button hands the result over', async () => {
    const fake3 = await FakeDiscord.start();
    const config3 = parseConfig({ DISCORD_TOKEN: fake3.token, DISCORD_APP_ID: fake3.appId, DISCORD_API_BASE: fake3.apiBase, DISCORD_REGISTER_COMMANDS: 'false', ANIMEFY_DATA_DIR: path.join(dataDir, 'bot3') });
    const bot3 = await startDiscordBot(config3, bots.service.queue, memoryBotState(), { tokenTtlMs: 1000, editIntervalMs: 500 });
    try {
      const owen = fake3.user('1300000000000000016', 'owen');
      fake3.closeDms(owen.id);
      fake3.setBotPermissions(fake3.channelId, VIEW_AND_SEND); // app_permissions without Attach Files: no channel post is tried
      const attachment = await fake3.addAttachment('portrait.jpg', fixture('portrait_frontal_1.jpg'), 'image/jpeg');
      const interaction = await fake3.slashCommand({ name: 'animefy', options: [attachmentOption(attachment)], user: owen });
      const handedOver = await interaction.waitForOriginal((m) => /taking a while/.test(m.content), 10_000);
      expect(handedOver.content).toContain('send it to you in a DM');
      await fake3.waitFor(() => fake3.requests.find((r) => r.response?.code === 50007), JOB_TIMEOUT, () => 'the refused DM');
      expect(fake3.requests.filter((r) => r.path === `/channels/${fake3.channelId}/messages`)).toEqual([]);

      const button = customId(handedOver, /Get my result/);
      const byOther = await fake3.button({ customId: button, message: handedOver, user: fake3.user('1300000000000000017', 'pia') });
      expect((await byOther.waitForAck()).data).toMatchObject({ content: `⚠️ ${text('NOT_YOUR_BUTTON')}`, flags: EPHEMERAL });
      const press = await fake3.button({ customId: button, message: handedOver, user: owen });
      const handed = await press.waitForOriginal((m) => m.files.length > 0, 10_000);
      expect(handed.ephemeral).toBe(true);
      expect(await imageSize(handed.files[0].data)).toEqual(await imageSize(fixture('portrait_frontal_1.jpg')));
    } finally {
      await bot3.stop();
      await fake3.close();
    }
  }, JOB_TIMEOUT);

  it('starts with automatic sharding when Discord asks for several shards (a bot in 2,600 servers)', async () => {
    const fake4 = await FakeDiscord.start({ guildCount: 2600, maxConcurrency: 3 });
    const config4 = parseConfig({ DISCORD_TOKEN: fake4.token, DISCORD_APP_ID: fake4.appId, DISCORD_API_BASE: fake4.apiBase, ANIMEFY_DATA_DIR: path.join(dataDir, 'bot4') });
    const bot4 = await startDiscordBot(config4, bots.service.queue, memoryBotState());
    try {
      expect(fake4.identifies.map((i) => i.shard).sort()).toEqual([[0, 3], [1, 3], [2, 3]]);
      const about = await fake4.slashCommand({ name: 'about' });
      expect((await about.waitForAck()).data.content).toMatch(/non-commercial/);
    } finally {
      await bot4.stop();
      await fake4.close();
    }
  });

  it('person mode: a numbered preview only the requester sees, then the picked person becomes anime; /erase picks the same way', async () => {
    const quinn = fake.user('1300000000000000031', 'quinn');
    const group = { name: 'group.jpg', data: fixture('group_3faces.jpg'), type: 'image/jpeg' };
    const { interaction } = await animefy(group, { mode: 'person', style: 'hayao' }, quinn);
    const preview = await resultOf(interaction);
    expect(preview.ephemeral).toBe(true);
    expect(preview.content).toMatch(/people, numbered left to right/);
    const menu = preview.components[0].components[0];
    const values = menu.options.map((o: any) => o.value);
    expect(values.length).toBeGreaterThanOrEqual(3); // two people or more, and Everyone
    expect(values[values.length - 1]).toBe('all');

    const someoneElse = await fake.select({ customId: menu.custom_id, values: ['2'], message: preview, user: alice });
    expect(await ephemeralText(someoneElse)).toContain(text('NOT_YOUR_BUTTON'));
    const pick = await fake.select({ customId: menu.custom_id, values: ['2'], message: preview, user: quinn });
    const result = await resultOf(pick);
    expect(result.ephemeral).toBe(false);
    expect(result.content).toMatch(/Hayao/);
    expect(result.content).toMatch(/person 2/);
    expect(await imageSize(result.files[0].data)).toEqual(await imageSize(group.data));

    const attachment = await fake.addAttachment('group.jpg', group.data, group.type);
    const erase = await fake.slashCommand({ name: 'erase', options: [attachmentOption(attachment)], user: quinn });
    const erasePreview = await resultOf(erase);
    const eraseMenu = erasePreview.components[0].components[0];
    expect(eraseMenu.options.map((o: any) => o.value)).not.toContain('all');
    const erasePick = await fake.select({ customId: eraseMenu.custom_id, values: ['1'], message: erasePreview, user: quinn });
    const erased = await resultOf(erasePick);
    expect(erased.content).toMatch(/Erased: person 1/);
    expect(buttonIds(erased).map((b) => b.label)).toEqual(['Delete']);
  }, 3 * JOB_TIMEOUT);

  it('a user past the rate limit is told how long to wait', async () => {
    const frank = fake.user('1300000000000000006', 'frank');
    const tiny = { name: 'tiny.png', data: await sharp({ create: { width: 4, height: 4, channels: 3, background: '#888' } }).png().toBuffer(), type: 'image/png' };
    for (let i = 0; i < 4; i++) {
      const { interaction } = await animefy(tiny, {}, frank);
      expect(await ephemeralText(interaction)).toMatch(/too small/);
    }
    const limited = await animefy(tiny, {}, frank);
    expect(await ephemeralText(limited.interaction, 5000)).toMatch(/You're going fast! You can start another one in \d+ (s|min)\./);
    expect(limited.interaction.callbacks[0].type).toBe(4);
  }, JOB_TIMEOUT);

  it('✖ Cancel on the progress reply: refused for others, stops the job for the requester', async () => {
    const gina = fake.user('1300000000000000007', 'gina');
    const { interaction } = await animefy({ name: 'clip.gif', data: fixture('face_clip.gif'), type: 'image/gif' }, {}, gina);
    const running = await interaction.waitForOriginal((m) => buttonIds(m).some((b) => b.label === 'Cancel') && /frame|%/.test(m.content), JOB_TIMEOUT);
    const cancel = customId(running, /Cancel/);
    const byBob = await fake.button({ customId: cancel, message: running, user: bob });
    expect(await ephemeralText(byBob, 5000)).toContain(text('NOT_YOUR_BUTTON'));
    const byGina = await fake.button({ customId: cancel, message: running, user: gina });
    expect((await byGina.waitForAck()).type).toBe(6);
    const ended = await interaction.waitForOriginal((m) => m.content === '✖ Cancelled.', 30_000);
    expect(ended.files).toEqual([]);
    expect(ended.components).toEqual([]);
  }, JOB_TIMEOUT);

  it('called no route the fake does not know', () => {
    expect(fake.unhandled).toEqual([]);
  });

  it('stopping: a running job is cancelled with a "restarting" message, then the gateway is closed', async () => {
    const ivy = fake.user('1300000000000000009', 'ivy');
    const { interaction } = await animefy({ name: 'clip.gif', data: fixture('face_clip.gif'), type: 'image/gif' }, {}, ivy);
    await interaction.waitForOriginal((m) => /frame|%/.test(m.content), JOB_TIMEOUT);
    await bots.stop(); // ANIMEFY_SHUTDOWN_GRACE_S=0: cancelled at once
    expect(await ephemeralText(interaction, 10_000)).toContain(text('SHUTTING_DOWN'));
    expect(interaction.original()?.files ?? []).toEqual([]);
    await fake.waitFor(() => fake.gatewayConnections === 0, 5000, () => 'the gateway closed');
  }, JOB_TIMEOUT);
});
