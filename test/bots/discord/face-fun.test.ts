/**
 * /sticker, /emoji, /smile, /landmarks and the "Landmarks" message menu on Discord, end to end:
 * `startBots` with the real discord.js client against the fake Discord, real fixtures and real models
 * in real worker processes.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBots, type RunningBots } from '#src/app/bot.ts';
import { parseConfig } from '#src/config.ts';
import { fixture } from '../../helpers/fixtures.ts';
import { FakeDiscord, type FakeInteraction, type FakeMessage, type FakeUserObject } from '../../fakes/fake-discord.ts';

const JOB_TIMEOUT = 120_000;

let fake: FakeDiscord;
let bots: RunningBots;
let dataDir: string;
let alice: FakeUserObject;

beforeAll(async () => {
  fake = await FakeDiscord.start();
  alice = fake.user('1300000000000000011', 'alice');
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'animefy-discord-fun-'));
  const config = parseConfig({
    ...process.env,
    TELEGRAM_BOT_TOKEN: '',
    DISCORD_TOKEN: fake.token,
    DISCORD_APP_ID: fake.appId,
    DISCORD_GUILD_ID: '',
    DISCORD_REGISTER_COMMANDS: 'true',
    DISCORD_API_BASE: fake.apiBase,
    DISCORD_MEDIA_HOSTS: fake.cdnOrigin,
    ANIMEFY_REDIS_URL: '',
    ANIMEFY_METRICS_PORT: '',
    ANIMEFY_DATA_DIR: dataDir,
    ANIMEFY_CONCURRENCY: '1',
    ANIMEFY_WORKING_SIZE: '512',
    ANIMEFY_VIDEO_WORKING_SIZE: '160',
    ANIMEFY_RATE_LIMIT_JOBS: '100',
    ANIMEFY_SHUTDOWN_GRACE_S: '0',
  });
  bots = await startBots(config, { discord: { editIntervalMs: 500 } });
}, 120_000);

afterAll(async () => {
  await bots?.stop();
  await fake?.close();
  await fs.rm(dataDir, { recursive: true, force: true });
});

async function command(name: string, file: { name: string; data: Buffer; type: string }, options: Record<string, string | boolean | number> = {}): Promise<FakeInteraction> {
  const attachment = await fake.addAttachment(file.name, file.data, file.type);
  const opts: any[] = [{ name: 'image', type: 11, value: attachment }];
  for (const [key, value] of Object.entries(options)) opts.push({ name: key, type: typeof value === 'boolean' ? 5 : typeof value === 'number' ? 4 : 3, value });
  return fake.slashCommand({ name, options: opts, user: alice });
}

const portrait = () => ({ name: 'portrait.jpg', data: fixture('portrait_frontal_1.jpg'), type: 'image/jpeg' });

function resultOf(interaction: FakeInteraction): Promise<FakeMessage> {
  return interaction.waitForOriginal((m) => m.files.length > 0, JOB_TIMEOUT);
}

function labels(message: FakeMessage): string[] {
  return (message.components ?? []).flatMap((row: any) => row.components.map((c: any) => c.label));
}

describe('Discord stickers, emoji, smile and landmarks', () => {
  let stickerReply: FakeMessage;

  it('/sticker answers with a 320 px sticker PNG under 512 KB and a 128 px emoji PNG under 256 KB, both transparent', async () => {
    const interaction = await command('sticker', portrait(), { style: 'cartoon' });
    stickerReply = await resultOf(interaction);
    expect(stickerReply.files.map((f) => f.filename)).toEqual(['animefy-sticker.png', 'animefy-emoji.png']);
    const [sticker, emoji] = stickerReply.files;
    const stickerMeta = await sharp(sticker.data).metadata();
    expect(stickerMeta.format).toBe('png');
    expect(stickerMeta.hasAlpha).toBe(true);
    expect(Math.max(stickerMeta.width!, stickerMeta.height!)).toBe(320);
    expect(sticker.data.byteLength).toBeLessThanOrEqual(512 * 1024);
    const emojiMeta = await sharp(emoji.data).metadata();
    expect([emojiMeta.width, emojiMeta.height]).toEqual([128, 128]);
    expect(emoji.data.byteLength).toBeLessThanOrEqual(256 * 1024);
    expect(stickerReply.content).toMatch(/Server Settings/);
    expect(labels(stickerReply)).toEqual(['Animate it', 'Delete']);
  }, JOB_TIMEOUT);

  it('"Animate it" makes a 128 px animated GIF emoji under 256 KB from the same photo', async () => {
    const id = (stickerReply.components ?? []).flatMap((row: any) => row.components).find((c: any) => c.label === 'Animate it').custom_id;
    const press = await fake.button({ customId: id, message: stickerReply, user: alice });
    const reply = await resultOf(press);
    const [gif] = reply.files;
    expect(gif.filename).toBe('animefy-emoji.gif');
    const meta = await sharp(gif.data, { animated: true }).metadata();
    expect(meta.format).toBe('gif');
    expect(meta.width).toBe(128);
    expect(meta.pages).toBeGreaterThan(10);
    expect(gif.data.byteLength).toBeLessThanOrEqual(256 * 1024);
    expect(labels(reply)).toEqual(['Another effect', 'Delete']);
  }, JOB_TIMEOUT);

  it('/emoji with a caption the font cannot draw is refused at once, before any work', async () => {
    const interaction = await command('emoji', portrait(), { effect: 'spin', text: 'gm 你好' });
    const ack = await interaction.waitForAck();
    expect(ack.data.content).toMatch(/can't draw/);
    expect(ack.data.content).toContain('你');
  });

  it('/smile answers with a real photo of the same size', async () => {
    const interaction = await command('smile', portrait(), { amount: 70 });
    const reply = await resultOf(interaction);
    expect(reply.content).toMatch(/Smile 70%/);
    const input = await sharp(fixture('portrait_frontal_1.jpg')).metadata();
    const output = await sharp(reply.files[0].data).metadata();
    expect([output.width, output.height]).toEqual([input.width, input.height]);
  }, JOB_TIMEOUT);

  it('the "Landmarks" message menu marks the face on the message\'s picture', async () => {
    const attachment = await fake.addAttachment('anime.png', fixture('anime_face_1.png'), 'image/png');
    const menu = await fake.contextMenu({ name: 'Landmarks', message: { content: 'who is this', attachments: [attachment] }, user: alice });
    const reply = await resultOf(menu);
    expect(reply.content).toMatch(/Face landmarks: 1 face/);
    expect(reply.files[0].filename).toMatch(/^animefy-landmarks\./);
  }, JOB_TIMEOUT);
});
