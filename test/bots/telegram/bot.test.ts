/**
 * The Telegram bot end to end: `startBots` (what `npm start` runs) with the real grammY client and
 * runner, long polling a fake Telegram Bot API server on 127.0.0.1 (test/bots/telegram/fake-telegram.ts),
 * real fixtures and real models in real worker processes. Scenarios run in order against one bot.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBots, type RunningBots } from '#src/app/bot.ts';
import { parseConfig } from '#src/config.ts';
import { ERROR_MESSAGES } from '#src/errors.ts';
import { probeMedia } from '#src/pipeline/media/probe.ts';
import { STYLES } from '#src/pipeline/styles.ts';
import { fixture, fixturePath } from '../../helpers/fixtures.ts';
import { makeMedia, paths, scratchDir } from '../../helpers/make-media.ts';
import { FakeTelegram, type FakeChat, type FakeUser, type RecordedCall } from '../../fakes/fake-telegram.ts';

const alice: FakeUser = { id: 1001, first_name: 'Alice', username: 'alice' };
const bob: FakeUser = { id: 1002, first_name: 'Bob', username: 'bob' };
const aliceDm: FakeChat = { id: 1001, type: 'private', first_name: 'Alice' };
const bobDm: FakeChat = { id: 1002, type: 'private', first_name: 'Bob' };
const group: FakeChat = { id: -100200, type: 'supergroup', title: 'Anime fans' };

const RESULT_METHODS = ['sendPhoto', 'sendDocument', 'sendAnimation', 'sendVideo', 'sendSticker'];

let fake: FakeTelegram;
let bots: RunningBots;
let dataDir: string;
let scratch: string;

beforeAll(async () => {
  fake = await FakeTelegram.start();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'animefy-telegram-test-'));
  scratch = await scratchDir();
  const config = parseConfig({
    ...process.env,
    TELEGRAM_BOT_TOKEN: fake.token,
    TELEGRAM_API_ROOT: fake.apiRoot,
    TELEGRAM_MAX_DOWNLOAD_MB: '20',
    TELEGRAM_MAX_UPLOAD_MB: '50',
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

/** The bot's reply (of one of `methods`) to a user message. */
function replyTo(message: any, methods: string | string[] = RESULT_METHODS, since = 0): Promise<RecordedCall> {
  return fake.waitForCall(
    methods,
    (call) => call.status === 200 && Number(call.params.chat_id) === message.chat.id && call.params.reply_parameters?.message_id === message.message_id,
    { since, timeoutMs: 90_000 },
  );
}

/** The status message's final text (after its edits): an error or a cancel note. */
async function finalStatusText(statusMessageId: number, chatId: number, match: RegExp): Promise<string> {
  const call = await fake.waitForCall(
    ['editMessageText', 'sendMessage'],
    (c) => Number(c.params.chat_id) === chatId && (c.params.message_id === undefined || c.params.message_id === statusMessageId) && match.test(String(c.params.text)),
    { timeoutMs: 90_000 },
  );
  return String(call.params.text);
}

function buttons(call: RecordedCall): { text: string; callback_data: string }[] {
  return (call.params.reply_markup?.inline_keyboard ?? []).flat();
}

function button(call: RecordedCall, label: RegExp): string {
  const found = buttons(call).find((b) => label.test(b.text));
  if (!found) throw new Error(`no button ${label} in ${JSON.stringify(buttons(call).map((b) => b.text))}`);
  return found.callback_data;
}

async function imageSize(bytes: Buffer): Promise<{ width: number; height: number }> {
  const meta = await sharp(bytes).metadata();
  return { width: meta.autoOrient?.width ?? meta.width!, height: meta.autoOrient?.height ?? meta.height! };
}

async function probeBytes(bytes: Buffer, name: string) {
  const file = path.join(scratch, name);
  await fs.writeFile(file, bytes);
  return probeMedia(paths, file);
}

/** Nothing the bot sent to a chat since call index `since`, after waiting `ms`. */
async function silenceIn(chatId: number, since: number, ms = 2500): Promise<RecordedCall[]> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return fake.calls.slice(since).filter((c) => c.method !== 'getUpdates' && Number(c.params.chat_id) === chatId);
}

describe('Telegram bot', () => {
  let photoMessage: any;
  let photoResult: RecordedCall;

  it('answers /start and /about with help, privacy and the model licences', async () => {
    const start = fake.userText({ chat: aliceDm, from: alice, text: '/start' });
    const help = await replyTo(start, 'sendMessage');
    expect(help.params.text).toMatch(/photo, a GIF/);
    expect(help.params.text).toContain('files up to 20 MB; GIFs and videos up to 15 s');
    const about = fake.userText({ chat: aliceDm, from: alice, text: '/about' });
    const aboutReply = await replyTo(about, 'sendMessage');
    expect(aboutReply.params.text).toMatch(/not kept after the reply/);
    expect(aboutReply.params.text).toMatch(/non-commercial/);
    const styles = fake.userText({ chat: aliceDm, from: alice, text: '/styles' });
    const stylesReply = await replyTo(styles, 'sendMessage');
    for (const style of STYLES) expect(stylesReply.params.text).toContain(style.label);
    expect(fake.callsTo('setMyCommands')[0]?.params.commands.map((c: any) => c.command)).toContain('animefy');
  });

  it('a photo with the caption "/animefy shinkai" comes back as a Shinkai photo of the same size, with buttons', async () => {
    const input = fixture('portrait_frontal_1.jpg');
    const since = fake.calls.length;
    photoMessage = await fake.userPhoto({ chat: aliceDm, from: alice, bytes: input, caption: '/animefy shinkai' });
    photoResult = await replyTo(photoMessage, 'sendPhoto', since);
    const sent = photoResult.files.photo.bytes;
    expect(await imageSize(sent)).toEqual(await imageSize(input));
    expect(photoResult.params.caption).toMatch(/Shinkai/);
    // The face model drew her face, so "Keep faces" is offered too.
    expect(buttons(photoResult).map((b) => b.text)).toEqual(['🎨 Another style', '🙂 Keep faces', '🔍 Upscale', '🗑 Delete']);
    for (const b of buttons(photoResult)) expect(Buffer.byteLength(b.callback_data)).toBeLessThanOrEqual(64);

    // The status message said where the job was, kept a chat action going, and is gone now.
    const status = fake.calls.slice(since).find((c) => c.method === 'sendMessage' && Number(c.params.chat_id) === aliceDm.id);
    expect(status?.params.text).toMatch(/Getting your file/);
    expect(fake.calls.slice(since).some((c) => c.method === 'sendChatAction' && c.params.action === 'upload_photo')).toBe(true);
    await fake.waitForCall('deleteMessage', (c) => c.params.message_id === status!.result.message_id, { since });
    expect(fake.botMessage(aliceDm.id, status!.result.message_id)).toBeUndefined();
  });

  it('"Another style" reuses the original photo: a style keyboard, then a new result', async () => {
    const since = fake.calls.length;
    const resultMessage = photoResult.result;
    const queryId = fake.pressButton({ from: alice, message: resultMessage, data: button(photoResult, /Another style/) });
    const keyboard = await fake.waitForCall('sendMessage', (c) => Number(c.params.chat_id) === aliceDm.id && buttons(c).length === STYLES.length, { since });
    expect(fake.callbackAnswer(queryId)?.answeredAfterMs).toBeLessThan(3000);
    const cartoon = buttons(keyboard).find((b) => /Cartoon/.test(b.text))!;
    fake.pressButton({ from: alice, message: keyboard.result, data: cartoon.callback_data });
    const again = await replyTo(photoMessage, 'sendPhoto', since);
    expect(again.params.caption).toMatch(/Cartoon/);
    expect(await imageSize(again.files.photo.bytes)).toEqual(await imageSize(fixture('portrait_frontal_1.jpg')));
    // The file was not sent again by the user: the bot fetched the same file_id once more.
    const fileId = photoMessage.photo.at(-1).file_id;
    expect(fake.callsTo('getFile').filter((c) => c.params.file_id === fileId).length).toBeGreaterThanOrEqual(2);
  });

  it('"Keep faces" runs the same photo and style again with the faces kept, and offers anime faces back', async () => {
    const since = fake.calls.length;
    fake.pressButton({ from: alice, message: photoResult.result, data: button(photoResult, /Keep faces/) });
    const kept = await replyTo(photoMessage, 'sendPhoto', since);
    expect(kept.params.caption).toMatch(/Shinkai/);
    expect(kept.params.caption).toMatch(/faces kept/);
    expect(buttons(kept).map((b) => b.text)).toContain('✨ Anime faces');
  });

  it('"Delete" is refused for anyone but the requester, and works for them', async () => {
    const data = button(photoResult, /Delete/);
    const refused = fake.pressButton({ from: bob, message: photoResult.result, data });
    await fake.waitForCall('answerCallbackQuery', (c) => c.params.callback_query_id === refused);
    expect(fake.callbackAnswer(refused)).toMatchObject({ text: ERROR_MESSAGES.NOT_YOUR_BUTTON, show_alert: true });
    expect(fake.botMessage(aliceDm.id, photoResult.result.message_id)).toBeDefined();

    const accepted = fake.pressButton({ from: alice, message: photoResult.result, data });
    await fake.waitForCall('deleteMessage', (c) => c.params.message_id === photoResult.result.message_id);
    // Answered once the message is gone.
    await fake.waitForCall('answerCallbackQuery', (c) => c.params.callback_query_id === accepted);
    expect(fake.callbackAnswer(accepted)).toMatchObject({ text: '🗑 Deleted.' });
    expect(fake.botMessage(aliceDm.id, photoResult.result.message_id)).toBeUndefined();
  });

  it('a photo without a caption gets a style keyboard; a pick runs the job in that message', async () => {
    const since = fake.calls.length;
    const message = await fake.userPhoto({ chat: bobDm, from: bob, bytes: fixture('group_3faces.jpg') });
    const keyboard = await replyTo(message, 'sendMessage', since);
    expect(buttons(keyboard).map((b) => b.text)).toEqual(STYLES.map((s) => `${s.emoji} ${s.label}`));
    for (const b of buttons(keyboard)) expect(Buffer.byteLength(b.callback_data)).toBeLessThanOrEqual(64);

    const queryId = fake.pressButton({ from: bob, message: keyboard.result, data: button(keyboard, /Hayao/) });
    const result = await replyTo(message, 'sendPhoto', since);
    expect(fake.callbackAnswer(queryId)?.answeredAfterMs).toBeLessThan(3000);
    expect(result.params.caption).toMatch(/Hayao/);
    expect(await imageSize(result.files.photo.bytes)).toEqual(await imageSize(fixture('group_3faces.jpg')));
    // The keyboard message became the status message (queued / progress), then went away.
    const edits = fake.calls.slice(since).filter((c) => c.method === 'editMessageText' && c.params.message_id === keyboard.result.message_id);
    expect(edits.length).toBeGreaterThan(0);
    await fake.waitForCall('deleteMessage', (c) => c.params.message_id === keyboard.result.message_id, { since });
    expect(fake.botMessage(bobDm.id, keyboard.result.message_id)).toBeUndefined();
  });

  it('a GIF (sent by Telegram as an MP4 animation) comes back as an animation', async () => {
    // Telegram turns every GIF into a silent H.264 MP4 "animation"; do the same to the GIF fixture.
    const mp4 = await makeMedia(scratch, 'gif-as-animation.mp4', [
      '-i', fixturePath('face_clip.gif'), '-an', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast', '-movflags', '+faststart',
    ]);
    const since = fake.calls.length;
    const message = fake.userAnimation({ chat: aliceDm, from: alice, bytes: await fs.readFile(mp4), caption: 'hayao', width: 320, height: 180, duration: 3 });
    const result = await replyTo(message, 'sendAnimation', since);
    const info = await probeBytes(result.files.animation.bytes, 'animation-result.mp4');
    expect(info.videoCodec).toBe('h264');
    expect(info.frames).toBeGreaterThanOrEqual(25);
    expect(info.duration).toBeCloseTo(3, 0);
    expect(fake.calls.slice(since).some((c) => c.method === 'sendChatAction' && c.params.action === 'upload_video')).toBe(true);
  });

  it('a video comes back as a video with its sound', async () => {
    const since = fake.calls.length;
    const message = fake.userVideo({ chat: aliceDm, from: alice, bytes: fixture('talking_clip.mp4'), caption: '/animefy hayao', width: 160, height: 120, duration: 3 });
    const result = await replyTo(message, 'sendVideo', since);
    const info = await probeBytes(result.files.video.bytes, 'video-result.mp4');
    expect(info.audio).toBeDefined();
    expect(info.duration).toBeCloseTo(3, 0);
    expect([info.width, info.height]).toEqual([160, 120]);
    expect(result.params.supports_streaming).toBe(true);
  });

  it('in a group it answers only when addressed: caption command, reply with /animefy, never plain photos', async () => {
    let since = fake.calls.length;
    const plain = await fake.userPhoto({ chat: group, from: alice, bytes: fixture('portrait_frontal_2.jpg') });
    const otherBot = await fake.userPhoto({ chat: group, from: alice, bytes: fixture('portrait_frontal_2.jpg'), caption: '/animefy@other_bot shinkai' });
    fake.userText({ chat: group, from: bob, text: 'nice photo!', reply_to_message: plain });
    fake.userText({ chat: group, from: bob, text: '/start@other_bot' });
    expect(await silenceIn(group.id, since)).toEqual([]);
    expect(otherBot.message_id).toBeGreaterThan(plain.message_id);

    since = fake.calls.length;
    const addressed = await fake.userPhoto({ chat: group, from: alice, bytes: fixture('portrait_frontal_2.jpg'), caption: '/animefy@animefy_test_bot shinkai' });
    const captioned = await replyTo(addressed, 'sendPhoto', since);
    expect(captioned.params.caption).toMatch(/Shinkai/);

    // Bob replies to Alice's plain photo with /animefy: the result answers the photo, and Bob owns it.
    since = fake.calls.length;
    fake.userText({ chat: group, from: bob, text: '/animefy@animefy_test_bot cartoon', reply_to_message: plain });
    const replied = await replyTo(plain, 'sendPhoto', since);
    expect(replied.params.caption).toMatch(/Cartoon/);
    expect(button(replied, /Delete/)).toBe(`d:${bob.id}`);

    // A mention works too (when Telegram delivers it).
    since = fake.calls.length;
    fake.userText({ chat: group, from: bob, text: '@animefy_test_bot sketch', reply_to_message: plain });
    const mentioned = await replyTo(plain, 'sendPhoto', since);
    expect(mentioned.params.caption).toMatch(/Sketch/);
  });

  it("only a group's admins may set its default style", async () => {
    fake.setMemberStatus(group.id, alice.id, 'administrator');
    const refused = fake.userText({ chat: group, from: bob, text: '/style@animefy_test_bot shinkai' });
    expect((await replyTo(refused, 'sendMessage')).params.text).toBe(`⚠️ ${ERROR_MESSAGES.ADMINS_ONLY}`);

    const asked = fake.userText({ chat: group, from: alice, text: '/style@animefy_test_bot' });
    const keyboard = await replyTo(asked, 'sendMessage');
    const data = button(keyboard, /Cartoon/);
    const bobPress = fake.pressButton({ from: bob, message: keyboard.result, data });
    await fake.waitForCall('answerCallbackQuery', (c) => c.params.callback_query_id === bobPress);
    expect(fake.callbackAnswer(bobPress)).toMatchObject({ text: ERROR_MESSAGES.ADMINS_ONLY, show_alert: true });
    const alicePress = fake.pressButton({ from: alice, message: keyboard.result, data });
    await fake.waitForCall('editMessageText', (c) => c.params.message_id === keyboard.result.message_id && /Cartoon is now/.test(c.params.text));
    expect(fake.callbackAnswer(alicePress)?.show_alert).toBeFalsy();
  });

  it('a corrupt file gets a kind error, and the next request still works', async () => {
    const junk = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(4000, 0x42)]);
    const bad = fake.userDocument({ chat: bobDm, from: bob, bytes: junk, file_name: 'holiday.jpg', mime_type: 'image/jpeg', caption: 'hayao' });
    const status = await replyTo(bad, 'sendMessage');
    const text = await finalStatusText(status.result.message_id, bobDm.id, /⚠️/);
    expect([ERROR_MESSAGES.CORRUPT_IMAGE, ERROR_MESSAGES.NOT_AN_IMAGE].map((m) => `⚠️ ${m}`)).toContain(text);

    const since = fake.calls.length;
    const good = await fake.userPhoto({ chat: bobDm, from: bob, bytes: fixture('portrait_glasses_1.jpg'), caption: 'hayao' });
    const result = await replyTo(good, 'sendPhoto', since);
    expect(await imageSize(result.files.photo.bytes)).toEqual(await imageSize(fixture('portrait_glasses_1.jpg')));
  });

  it('politely refuses files over the download limit, animated stickers and non-media, without downloading', async () => {
    const since = fake.calls.length;
    const big = fake.userVideo({ chat: aliceDm, from: alice, bytes: fixture('talking_clip.mp4'), reportedSize: 25 * 1024 * 1024 });
    const bigReply = await replyTo(big, 'sendMessage', since);
    expect(bigReply.params.text).toMatch(/25 MB.*20 MB/);
    const tgs = fake.userSticker({ chat: aliceDm, from: alice, bytes: Buffer.from('not really lottie'), is_animated: true });
    expect((await replyTo(tgs, 'sendMessage', since)).params.text).toBe(`⚠️ ${ERROR_MESSAGES.ANIMATED_STICKER}`);
    const pdf = fake.userDocument({ chat: aliceDm, from: alice, bytes: Buffer.from('%PDF-1.4'), file_name: 'cv.pdf', mime_type: 'application/pdf' });
    expect((await replyTo(pdf, 'sendMessage', since)).params.text).toMatch(/can't work with \.pdf files/);
    const hello = fake.userText({ chat: aliceDm, from: alice, text: 'hello?' });
    expect((await replyTo(hello, 'sendMessage', since)).params.text).toMatch(/Send me a photo/);
    expect(fake.calls.slice(since).filter((c) => c.method === 'getFile')).toEqual([]);
  });

  it('a static sticker comes back as a sticker', async () => {
    const webp = await sharp(fixture('portrait_frontal_1.jpg')).resize(512, 512, { fit: 'cover' }).webp().toBuffer();
    const since = fake.calls.length;
    const message = fake.userSticker({ chat: aliceDm, from: alice, bytes: webp, width: 512, height: 512 });
    // No default style yet in this chat: pick one.
    const keyboard = await replyTo(message, 'sendMessage', since);
    fake.pressButton({ from: alice, message: keyboard.result, data: button(keyboard, /Shinkai/) });
    const result = await replyTo(message, 'sendSticker', since);
    const meta = await sharp(result.files.sticker.bytes).metadata();
    expect(meta.format).toBe('webp');
    expect([meta.width, meta.height]).toEqual([512, 512]);
  });

  it('a video sticker (VP9 WebM with alpha) comes back as an animation', async () => {
    const webm = await makeMedia(scratch, 'sticker.webm', [
      '-f', 'lavfi', '-i', 'color=c=black@0.0:s=256x256:r=10:d=0.6,format=rgba',
      '-loop', '1', '-t', '0.6', '-i', fixturePath('portrait_frontal_1.jpg'),
      '-filter_complex', '[1:v]scale=160:160,format=rgba[p];[0:v][p]overlay=x=48+t*20:y=48:shortest=1',
      '-c:v', 'libvpx-vp9', '-pix_fmt', 'yuva420p', '-auto-alt-ref', '0', '-deadline', 'realtime',
    ]);
    const since = fake.calls.length;
    const message = fake.userSticker({ chat: aliceDm, from: alice, bytes: await fs.readFile(webm), is_video: true, width: 256, height: 256 });
    const keyboard = await replyTo(message, 'sendMessage', since);
    fake.pressButton({ from: alice, message: keyboard.result, data: button(keyboard, /Hayao/) });
    const result = await replyTo(message, 'sendAnimation', since);
    const info = await probeBytes(result.files.animation.bytes, 'sticker-result.mp4');
    expect([info.videoCodec, info.width, info.height]).toEqual(['h264', 256, 256]);
  });

  it('/style sets the chat default (kept on disk); a 429 from Telegram is waited out and retried', async () => {
    const set = fake.userText({ chat: bobDm, from: bob, text: '/style shinkai' });
    expect((await replyTo(set, 'sendMessage')).params.text).toMatch(/Shinkai is now this chat's default/);

    fake.failNext('sendPhoto', { status: 429, retryAfter: 1 });
    const since = fake.calls.length;
    const message = await fake.userPhoto({ chat: bobDm, from: bob, bytes: fixture('portrait_3quarter_1.jpg') });
    const result = await replyTo(message, 'sendPhoto', since);
    expect(result.params.caption).toMatch(/Shinkai/); // no keyboard: the chat's default was used
    expect(fake.calls.slice(since).filter((c) => c.method === 'sendPhoto').map((c) => c.status)).toEqual([429, 200]);

    // Saved in the bot state file (ANIMEFY_DATA_DIR/state.json), shortly after the change.
    await new Promise((resolve) => setTimeout(resolve, 1300));
    const saved = JSON.parse(await fs.readFile(path.join(dataDir, 'state.json'), 'utf8'));
    expect(JSON.parse(saved.values[`settings:telegram:${bobDm.id}`].value)).toEqual({ style: 'shinkai' });
  });

  it('on shutdown a running job is cancelled with a message', async () => {
    const since = fake.calls.length;
    const message = fake.userVideo({ chat: aliceDm, from: alice, bytes: fixture('talking_clip.mp4'), caption: 'shinkai', width: 160, height: 120, duration: 3 });
    const status = await replyTo(message, 'sendMessage', since);
    // Running on a worker: "sending a video…" shows from then on (a status edit may not come first:
    // edits are paced, and a fast machine can finish the clip before the first slot).
    await fake.waitForCall('sendChatAction', (c) => Number(c.params.chat_id) === aliceDm.id, { since });
    await bots.stop();
    const text = await finalStatusText(status.result.message_id, aliceDm.id, /restarting/);
    expect(text).toBe(`⚠️ ${ERROR_MESSAGES.SHUTTING_DOWN}`);
    expect(fake.calls.slice(since).some((c) => c.method === 'sendVideo')).toBe(false);
  });
});
