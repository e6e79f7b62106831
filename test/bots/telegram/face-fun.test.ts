/**
 * /sticker, /emoji, /smile and /landmarks on Telegram, end to end: `startBots` with the real grammY
 * client against the fake Bot API (which checks stickers and sticker sets by Telegram's documented
 * rules), real fixtures and real models in real worker processes.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBots, type RunningBots } from '#src/app/bot.ts';
import { stickerSetName } from '#src/bots/telegram/sticker-pack.ts';
import { parseConfig } from '#src/config.ts';
import { AnimefyError } from '#src/errors.ts';
import { probeMedia } from '#src/pipeline/media/probe.ts';
import { fixture } from '../../helpers/fixtures.ts';
import { paths, scratchDir } from '../../helpers/make-media.ts';
import { FakeTelegram, type FakeChat, type FakeUser, type RecordedCall } from '../../fakes/fake-telegram.ts';

const alice: FakeUser = { id: 2001, first_name: 'Alice', username: 'alice' };
const bob: FakeUser = { id: 2002, first_name: 'Bob', username: 'bob' };
const aliceDm: FakeChat = { id: 2001, type: 'private', first_name: 'Alice' };
const BOT_USERNAME = 'animefy_test_bot';
const group: FakeChat = { id: -100300, type: 'supergroup', title: 'Sticker fans' };

let fake: FakeTelegram;
let bots: RunningBots;
let dataDir: string;
let scratch: string;

beforeAll(async () => {
  fake = await FakeTelegram.start();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'animefy-telegram-fun-'));
  scratch = await scratchDir();
  const config = parseConfig({
    ...process.env,
    TELEGRAM_BOT_TOKEN: fake.token,
    TELEGRAM_API_ROOT: fake.apiRoot,
    TELEGRAM_WEBHOOK_URL: '',
    ANIMEFY_REDIS_URL: '',
    ANIMEFY_METRICS_PORT: '',
    ANIMEFY_DATA_DIR: dataDir,
    ANIMEFY_CONCURRENCY: '1',
    ANIMEFY_WORKING_SIZE: '512',
    ANIMEFY_VIDEO_WORKING_SIZE: '160',
    ANIMEFY_RATE_LIMIT_JOBS: '100',
    ANIMEFY_SHUTDOWN_GRACE_S: '0',
  });
  bots = await startBots(config);
}, 120_000);

afterAll(async () => {
  await bots?.stop();
  await fake?.close();
  await fs.rm(dataDir, { recursive: true, force: true });
  await fs.rm(scratch, { recursive: true, force: true });
});

function replyTo(message: any, methods: string | string[], since = 0): Promise<RecordedCall> {
  return fake.waitForCall(
    methods,
    (call) => call.status === 200 && Number(call.params.chat_id) === message.chat.id && call.params.reply_parameters?.message_id === message.message_id,
    { since, timeoutMs: 90_000 },
  );
}

function buttons(call: RecordedCall): { text: string; callback_data: string }[] {
  return (call.params.reply_markup?.inline_keyboard ?? []).flat();
}

function button(call: RecordedCall, label: RegExp): string {
  const found = buttons(call).find((b) => label.test(b.text));
  if (!found) throw new Error(`no button ${label} in ${JSON.stringify(buttons(call).map((b) => b.text))}`);
  return found.callback_data;
}

async function answerTo(queryId: string) {
  await fake.waitForCall('answerCallbackQuery', (c) => c.params.callback_query_id === queryId, { timeoutMs: 30_000 });
  return fake.callbackAnswer(queryId);
}

describe('Telegram stickers, emoji, smile and landmarks', () => {
  let stickerCall: RecordedCall;

  it('/sticker on a photo answers with a 512 px transparent WebP sticker (sendSticker) and its buttons', async () => {
    const since = fake.calls.length;
    const message = await fake.userPhoto({ chat: aliceDm, from: alice, bytes: fixture('portrait_frontal_1.jpg'), caption: '/sticker' });
    stickerCall = await replyTo(message, 'sendSticker');
    // "choosing a sticker…" while it is made.
    expect(fake.calls.slice(since).some((c) => c.method === 'sendChatAction' && c.params.action === 'choose_sticker' && c.status === 200)).toBe(true);
    const bytes = stickerCall.files.sticker.bytes;
    const meta = await sharp(bytes).metadata();
    expect(meta.format).toBe('webp');
    expect(meta.hasAlpha).toBe(true);
    expect(Math.max(meta.width!, meta.height!)).toBe(512);
    expect(bytes.byteLength).toBeLessThanOrEqual(512 * 1024);
    expect(buttons(stickerCall).map((b) => b.text)).toEqual(['✨ Animate it', '➕ Add to my pack', '🗑 Delete']);
    expect(stickerCall.result.sticker.is_video).toBe(false);
  });

  it('"Add to my pack" creates the presser\'s pack with the sticker, then adds the next one to the same pack', async () => {
    const first = fake.pressButton({ from: alice, message: stickerCall.result, data: button(stickerCall, /Add to my pack/) });
    expect((await answerTo(first))?.text).toMatch(/Made your pack/);
    const name = stickerSetName(alice.id, BOT_USERNAME);
    expect(fake.callsTo('createNewStickerSet').at(-1)?.params.name).toBe(name);
    expect(fake.stickerSet(name)?.stickers).toHaveLength(1);
    // The link to the pack goes to her private chat.
    const link = await fake.waitForCall('sendMessage', (c) => Number(c.params.chat_id) === alice.id && /addstickers/.test(String(c.params.text)));
    expect(link.params.text).toContain(`https://t.me/addstickers/${name}`);

    const message = await fake.userPhoto({ chat: aliceDm, from: alice, bytes: fixture('portrait_glasses_1.jpg'), caption: '/sticker cartoon' });
    const second = await replyTo(message, 'sendSticker');
    const press = fake.pressButton({ from: alice, message: second.result, data: button(second, /Add to my pack/) });
    expect((await answerTo(press))?.text).toMatch(/2 stickers/);
    expect(fake.callsTo('createNewStickerSet')).toHaveLength(1);
    expect(fake.stickerSet(name)?.stickers).toHaveLength(2);
  });

  it('"Add to my pack" from someone who never opened a private chat with the bot says what to do', async () => {
    const message = await fake.userPhoto({ chat: group, from: alice, bytes: fixture('portrait_frontal_2.jpg'), caption: `/sticker@${BOT_USERNAME}` });
    const call = await replyTo(message, 'sendSticker');
    const press = fake.pressButton({ from: bob, message: call.result, data: button(call, /Add to my pack/) });
    expect(await answerTo(press)).toMatchObject({ text: new AnimefyError('STICKER_NEEDS_PRIVATE_CHAT').message, show_alert: true });
  });

  it('/emoji hearts gm answers with a video sticker: VP9 with alpha, 512 px, at most 3 s and 256 KB', async () => {
    const message = await fake.userPhoto({ chat: aliceDm, from: alice, bytes: fixture('portrait_frontal_1.jpg'), caption: '/emoji hearts gm' });
    const call = await replyTo(message, 'sendSticker');
    expect(call.result.sticker.is_video).toBe(true);
    const bytes = call.files.sticker.bytes;
    expect(bytes.byteLength).toBeLessThanOrEqual(256 * 1024);
    const file = path.join(scratch, 'emoji.webm');
    await fs.writeFile(file, bytes);
    const info = await probeMedia(paths, file);
    expect(info.videoCodec).toBe('vp9');
    expect(info.alpha).toBe(true);
    expect(Math.max(info.width, info.height)).toBe(512);
    expect(info.duration).toBeLessThanOrEqual(3);
    expect(buttons(call).map((b) => b.text)).toEqual(['🔁 Another effect', '➕ Add to my pack', '🗑 Delete']);
  });

  it('/emoji with a caption the font cannot draw is refused at once, before any work', async () => {
    const message = await fake.userPhoto({ chat: aliceDm, from: alice, bytes: fixture('portrait_frontal_1.jpg'), caption: '/emoji spin 你好' });
    const reply = await replyTo(message, 'sendMessage');
    expect(reply.params.text).toMatch(/can't draw/);
  });

  it('/smile as a reply to a photo sends back a real photo of the same size', async () => {
    const photo = await fake.userPhoto({ chat: aliceDm, from: alice, bytes: fixture('portrait_frontal_2.jpg') });
    const since = fake.calls.length;
    const command = fake.userText({ chat: aliceDm, from: alice, text: '/smile 80%', reply_to_message: photo });
    const call = await fake.waitForCall('sendPhoto', (c) => Number(c.params.chat_id) === aliceDm.id && c.params.reply_parameters?.message_id === photo.message_id, { since, timeoutMs: 90_000 });
    expect(command.message_id).toBeGreaterThan(photo.message_id);
    expect(call.params.caption).toMatch(/Smile 80%/);
    const input = await sharp(fixture('portrait_frontal_2.jpg')).metadata();
    const output = await sharp(call.files.photo.bytes).metadata();
    expect([output.width, output.height]).toEqual([input.autoOrient?.width ?? input.width, input.autoOrient?.height ?? input.height]);
  });

  it('/landmarks on a GIF answers with an animation, captioned with the faces it marked', async () => {
    const gif = fixture('face_clip.gif');
    const message = fake.userAnimation({ chat: aliceDm, from: alice, bytes: gif, caption: '/landmarks' });
    const call = await replyTo(message, ['sendAnimation', 'sendVideo', 'sendDocument']);
    expect(call.method).toBe('sendAnimation');
    expect(call.params.caption).toMatch(/Face landmarks: 1 face/);
  });
});
