/**
 * Self-test of the fake Telegram Bot API server, driven by the real grammY client over HTTP
 * (long polling with bot.start() and @grammyjs/runner, multipart uploads, downloads, errors, 429s,
 * sticker sets and their file rules).
 */
import fs from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { autoRetry } from '@grammyjs/auto-retry';
import { run } from '@grammyjs/runner';
import { Bot, GrammyError, InlineKeyboard, InputFile } from 'grammy';
import type { InputSticker } from 'grammy/types';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeMedia, scratchDir } from '../helpers/make-media.ts';
import { FakeTelegram, readWebm, stickerSetNameProblem, type FakeChat, type FakeUser } from './fake-telegram.ts';

const alice: FakeUser = { id: 1001, first_name: 'Alice', username: 'alice' };
const dm: FakeChat = { id: 1001, type: 'private', first_name: 'Alice', username: 'alice' };
const group: FakeChat = { id: -100200, type: 'supergroup', title: 'Anime fans' };

const png = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 200, g: 80, b: 40 } } }).png().toBuffer();

async function apiError(promise: Promise<unknown>): Promise<GrammyError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(GrammyError);
  return err as GrammyError;
}

let fake: FakeTelegram;
const cleanups: Array<() => Promise<unknown> | unknown> = [];
const newBot = (token = fake.token) => new Bot(token, { client: { apiRoot: fake.apiRoot } });

beforeEach(async () => {
  fake = await FakeTelegram.start();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await fake.close();
});

describe('FakeTelegram with real grammY', () => {
  it('answers getMe and rejects a wrong token with 401', async () => {
    const me = await newBot().api.getMe();
    expect(me).toMatchObject({ id: 123456, is_bot: true, username: 'animefy_test_bot', can_join_groups: true });
    const err = await apiError(newBot('999:wrong').api.getMe());
    expect(err.error_code).toBe(401);
    expect(err.description).toBe('Unauthorized');
    const viaGet = await fetch(`${fake.apiRoot}/bot${fake.token}/getMyCommands?language_code=en`);
    expect(await viaGet.json()).toEqual({ ok: true, result: [] });
    const unknown = await fetch(`${fake.apiRoot}/bot${fake.token}/noSuchMethod`, { method: 'POST' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ ok: false, error_code: 404, description: 'Not Found: method not found' });
  });

  it('delivers updates to bot.start() long polling and matches commands like grammY does', async () => {
    const bot = newBot();
    const commands: any[] = [];
    const captionCommands: any[] = [];
    const others: any[] = [];
    bot.command('animefy', (ctx) => void commands.push({ message: ctx.message, match: ctx.match }));
    // grammY's bot.command() only looks at `entities` (not captions, grammY PR #147): media bots filter captions themselves.
    bot.on(':caption_entities:bot_command', (ctx) => void captionCommands.push(ctx.message));
    bot.on('message', (ctx) => void others.push(ctx.message));
    const polling = bot.start({ timeout: 30 });
    await vi.waitFor(() => expect(fake.pendingPolls).toBe(1), { timeout: 5000 }); // bot is long polling

    const photo = await fake.userPhoto({ chat: dm, from: alice, bytes: await png(400, 300), caption: '/animefy shinkai' });
    fake.userText({ chat: group, from: alice, text: '/animefy@animefy_test_bot ghibli' });
    fake.userText({ chat: group, from: alice, text: '/animefy@other_bot' });
    fake.userText({ chat: dm, from: alice, text: '/animefy' });
    await vi.waitFor(() => expect(commands.length + captionCommands.length + others.length).toBe(4), { timeout: 5000 });

    expect(photo.photo.at(-1)).toMatchObject({ width: 400, height: 300 });
    expect(photo.photo[0].width).toBeLessThanOrEqual(90);
    expect(photo.caption_entities).toEqual([{ type: 'bot_command', offset: 0, length: 8 }]);
    expect(captionCommands).toHaveLength(1);
    expect(captionCommands[0].photo).toHaveLength(2);
    expect(captionCommands[0].caption).toBe('/animefy shinkai');
    expect(commands.map((c) => [c.message.chat.id, c.match])).toEqual([[group.id, 'ghibli'], [dm.id, '']]);
    expect(commands[0].message.chat).toEqual(group);
    expect(commands[0].message.entities).toEqual([{ type: 'bot_command', offset: 0, length: 25 }]);
    expect(others.map((m) => m.text)).toEqual(['/animefy@other_bot']);

    await bot.stop();
    await polling;
    expect(fake.pendingPolls).toBe(0);
    expect((await bot.api.getWebhookInfo()).pending_update_count).toBe(0); // stop() confirmed the offset
  });

  it('works with @grammyjs/runner and answers a held poll with [] on close', async () => {
    const bot = newBot();
    const texts: string[] = [];
    bot.on('message:text', (ctx) => void texts.push(ctx.message.text));
    const runner = run(bot);
    cleanups.push(() => runner.isRunning() && runner.stop());
    fake.userText({ chat: dm, from: alice, text: 'hello @someone' });
    await vi.waitFor(() => expect(texts).toEqual(['hello @someone']), { timeout: 5000 });
    await runner.stop();

    await vi.waitFor(() => expect(fake.pendingPolls).toBe(0)); // the server noticed the aborted poll
    const held = bot.api.getUpdates({ timeout: 30 });
    await vi.waitFor(() => expect(fake.pendingPolls).toBe(1));
    const started = Date.now();
    await fake.close();
    expect(await held).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('serves downloads via getFile and /file/bot<token>/<path>', async () => {
    const bytes = Buffer.from('not really a video');
    const message = fake.userVideo({ chat: dm, from: alice, bytes, duration: 3, width: 320, height: 240 });
    const bot = newBot();
    const file = await bot.api.getFile(message.video.file_id);
    expect(file.file_size).toBe(bytes.length);
    const response = await fetch(`${fake.apiRoot}/file/bot${fake.token}/${file.file_path}`);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes);
    expect((await fetch(`${fake.apiRoot}/file/bot${fake.token}/nope.bin`)).status).toBe(404);
    expect((await fetch(`${fake.apiRoot}/file/bot1:x/${file.file_path}`)).status).toBe(401);
  });

  it('records multipart uploads and builds media messages', async () => {
    const bot = newBot();
    const request = fake.userText({ chat: dm, from: alice, text: '/animefy' });
    const image = await png(64, 48);
    const sent = await bot.api.sendPhoto(dm.id, new InputFile(image, 'x.png'), {
      caption: 'Here you go',
      reply_markup: new InlineKeyboard().text('A', 'a'),
      reply_parameters: { message_id: request.message_id },
    });
    const call = fake.callsTo('sendPhoto')[0];
    expect(call.files.photo.bytes).toEqual(image);
    expect(call.files.photo.filename).toBe('x.png');
    expect(call.params.reply_markup).toEqual({ inline_keyboard: [[{ text: 'A', callback_data: 'a' }]] });
    expect(call.params.chat_id).toBe(dm.id);
    expect(call.params.caption).toBe('Here you go');
    expect(sent.photo.at(-1)).toMatchObject({ width: 64, height: 48 });
    expect(sent.reply_to_message?.message_id).toBe(request.message_id);
    expect(sent.message_id).toBe(request.message_id + 1);
    expect(sent.chat).toEqual(dm);
    expect(fake.fileBytes(sent.photo.at(-1)!.file_id)).toEqual(image);
    expect(fake.botMessage(dm.id, sent.message_id)).toMatchObject({ caption: 'Here you go' });

    const video = await bot.api.sendVideo(dm.id, new InputFile(Buffer.from('mp4 bytes'), 'out.mp4'), { width: 320, height: 240, duration: 2 });
    expect(video.video).toMatchObject({ width: 320, height: 240, duration: 2, mime_type: 'video/mp4', file_name: 'out.mp4' });
    const gif = await bot.api.sendAnimation(dm.id, new InputFile(Buffer.from('gif bytes'), 'out.mp4'));
    expect(gif.animation?.file_size).toBe(9);
    expect(gif.document?.file_id).toBe(gif.animation?.file_id);
    const doc = await bot.api.sendDocument(dm.id, new InputFile(image, 'full.png'));
    expect(doc.document).toMatchObject({ file_name: 'full.png', mime_type: 'image/png', file_size: image.length });
    expect(fake.fileBytes(doc.document!.file_id)).toEqual(image);
    // Re-sending by file_id, and an unknown file_id.
    const again = await bot.api.sendDocument(dm.id, doc.document!.file_id);
    expect(again.document?.file_id).toBe(doc.document!.file_id);
    // A standard (undici FormData) upload with the file part under the param name itself.
    const form = new FormData();
    form.set('chat_id', String(group.id));
    form.set('reply_markup', JSON.stringify({ inline_keyboard: [] }));
    form.set('photo', new Blob([image], { type: 'image/png' }), 'direct.png');
    const direct = await fetch(`${fake.apiRoot}/bot${fake.token}/sendPhoto`, { method: 'POST', body: form });
    expect(direct.status).toBe(200);
    const directCall = fake.callsTo('sendPhoto').at(-1)!;
    expect(directCall.files.photo).toMatchObject({ filename: 'direct.png', contentType: 'image/png' });
    expect(directCall.params).toMatchObject({ chat_id: group.id, reply_markup: { inline_keyboard: [] } });
    const err = await apiError(bot.api.sendPhoto(dm.id, 'AgACnope'));
    expect(err.description).toBe('Bad Request: wrong file identifier/HTTP URL specified');
  });

  it('rejects unmodified edits and double deletes like the real API', async () => {
    const bot = newBot();
    const markup = new InlineKeyboard().text('Cancel', 'cancel');
    const msg = await bot.api.sendMessage(dm.id, 'Working…', { reply_markup: markup });
    const err = await apiError(bot.api.editMessageText(dm.id, msg.message_id, 'Working…', { reply_markup: markup }));
    expect(err.error_code).toBe(400);
    expect(err.description).toBe(
      'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
    );
    const edited = await bot.api.editMessageText(dm.id, msg.message_id, 'Done');
    expect(edited).toMatchObject({ text: 'Done' });
    expect(fake.botMessage(dm.id, msg.message_id).reply_markup).toBeUndefined();
    expect((await apiError(bot.api.editMessageText(dm.id, 999, 'x'))).description).toBe('Bad Request: message to edit not found');

    expect(await bot.api.deleteMessage(dm.id, msg.message_id)).toBe(true);
    expect(fake.botMessage(dm.id, msg.message_id)).toBeUndefined();
    const again = await apiError(bot.api.deleteMessage(dm.id, msg.message_id));
    expect(again.description).toBe('Bad Request: message to delete not found');
  });

  it('tracks callback query answers', async () => {
    const bot = newBot();
    const msg = await bot.api.sendMessage(dm.id, 'Pick', { reply_markup: new InlineKeyboard().text('A', 'a') });
    const queryId = fake.pressButton({ from: alice, message: msg, data: 'a' });
    expect(fake.callbackAnswer(queryId)).toBeUndefined();
    expect(await bot.api.answerCallbackQuery(queryId, { text: 'OK' })).toBe(true);
    expect(fake.callbackAnswer(queryId)).toMatchObject({ text: 'OK' });
    expect(fake.callbackAnswer(queryId)!.answeredAfterMs).toBeGreaterThanOrEqual(0);
    const err = await apiError(bot.api.answerCallbackQuery(queryId));
    expect(err.description).toBe('Bad Request: query is too old and response timeout expired or query ID is invalid');
    const update = (await bot.api.getUpdates())[0];
    expect(update.callback_query).toMatchObject({ id: queryId, data: 'a', message: { message_id: msg.message_id } });
  });

  it('injects 429 (retried by auto-retry) and 500 failures', async () => {
    const bot = newBot();
    bot.api.config.use(autoRetry());
    fake.failNext('sendMessage', { status: 429, retryAfter: 1 });
    const started = Date.now();
    const msg = await bot.api.sendMessage(dm.id, 'hi');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(msg.text).toBe('hi');
    expect(fake.callsTo('sendMessage').map((c) => c.status)).toEqual([429, 200]);

    fake.failNext('sendChatAction', { status: 500 });
    const err = await apiError(newBot().api.sendChatAction(dm.id, 'typing'));
    expect(err.error_code).toBe(500);
    expect(err.description).toBe('Internal Server Error');
  });

  it('refuses getFile for files over 20 MB', async () => {
    const message = fake.userDocument({ chat: dm, from: alice, bytes: Buffer.from('x'), file_name: 'big.mp4', mime_type: 'video/mp4', reportedSize: 25 * 1024 * 1024 });
    expect(message.document.file_size).toBe(25 * 1024 * 1024);
    const err = await apiError(newBot().api.getFile(message.document.file_id));
    expect(err.description).toBe('Bad Request: file is too big');
  });

  it('waitForCall resolves on future calls and times out listing seen methods', async () => {
    const bot = newBot();
    const since = fake.calls.length;
    const waiting = fake.waitForCall('sendMessage', (c) => c.params.text === 'second', { since });
    await bot.api.sendMessage(dm.id, 'first');
    await bot.api.sendMessage(dm.id, 'second');
    expect((await waiting).result.text).toBe('second');
    await expect(fake.waitForCall('sendSticker', undefined, { timeoutMs: 50 })).rejects.toThrow(/sendMessage\(200\)/);
  });
});

describe('FakeTelegram sticker sets', () => {
  const bob: FakeUser = { id: 1002, first_name: 'Bob' };
  const bobDm: FakeChat = { id: 1002, type: 'private', first_name: 'Bob' };
  const SET = 'pack_by_animefy_test_bot';
  const webp = (width: number, height: number, background = { r: 40, g: 160, b: 90, alpha: 1 }) =>
    sharp({ create: { width, height, channels: 4, background } }).webp().toBuffer();
  /** Lossless WebP of noise: about 1 MB at 512x512. */
  const noisyWebp = () => sharp(randomBytes(512 * 512 * 3), { raw: { width: 512, height: 512, channels: 3 } }).webp({ lossless: true }).toBuffer();
  const tgs = (size = 512) => gzipSync(JSON.stringify({ v: '5.5.2', fr: 60, ip: 0, op: 120, w: size, h: size, layers: [] }));
  let scratch: string;
  /** A VP9 WebM made by ffmpeg: `size` like 512x384, `seconds` long, with extra output args. */
  const vp9 = async (name: string, size: string, seconds: number, extra: string[] = []) =>
    fs.readFile(await makeMedia(scratch, name, ['-f', 'lavfi', '-i', `color=c=red:s=${size}:r=30:d=${seconds}`, ...extra, '-c:v', 'libvpx-vp9', '-deadline', 'realtime']));
  const still = (sticker: string, emoji = ['🙂']): InputSticker => ({ sticker, format: 'static', emoji_list: emoji });
  /** A file on the fake's server, by the bot sending it as a document. */
  const upload = async (bytes: Buffer, name: string) => (await newBot().api.sendDocument(dm.id, new InputFile(bytes, name))).document!.file_id;

  beforeAll(async () => {
    scratch = await scratchDir();
  });
  afterAll(async () => {
    await fs.rm(scratch, { recursive: true, force: true });
  });
  beforeEach(() => {
    fake.userText({ chat: dm, from: alice, text: '/start' }); // alice has a private chat with the bot
  });

  it('sendSticker sends WEBP, TGS and WEBM files, sized from their bytes, and refuses other files', async () => {
    const bot = newBot();
    const sent = await bot.api.sendSticker(dm.id, new InputFile(await webp(300, 200), 's.webp'), { emoji: '😀' });
    expect(sent.sticker).toMatchObject({ type: 'regular', width: 300, height: 200, is_animated: false, is_video: false, emoji: '😀' });
    expect(sent.sticker!.set_name).toBeUndefined();
    const video = await bot.api.sendSticker(dm.id, new InputFile(await vp9('wide.webm', '512x384', 1), 'v.webm'));
    expect(video.sticker).toMatchObject({ width: 512, height: 384, is_animated: false, is_video: true });
    const animated = await bot.api.sendSticker(dm.id, new InputFile(tgs(), 'a.tgs'));
    expect(animated.sticker).toMatchObject({ width: 512, height: 512, is_animated: true, is_video: false });
    const again = await bot.api.sendSticker(dm.id, sent.sticker!.file_id);
    expect(again.sticker).toMatchObject({ file_id: sent.sticker!.file_id, width: 300, height: 200 });
    const err = await apiError(bot.api.sendSticker(dm.id, new InputFile(await png(512, 512), 's.png')));
    expect(err.description).toBe('Bad Request: wrong file type: expected a .WEBP, .TGS or .WEBM sticker');
  });

  it('stickerSetNameProblem follows the documented name rules, the suffix case-insensitively', () => {
    const bot = 'animefy_test_bot';
    expect(stickerSetNameProblem('pack_by_animefy_test_bot', bot)).toBeUndefined();
    expect(stickerSetNameProblem('P4ck_BY_Animefy_Test_Bot', bot)).toBeUndefined();
    expect(stickerSetNameProblem(`${'p'.repeat(64 - '_by_animefy_test_bot'.length)}_by_animefy_test_bot`, bot)).toBeUndefined();
    for (const name of [
      '',
      `${'p'.repeat(65 - '_by_animefy_test_bot'.length)}_by_animefy_test_bot`, // 65 characters
      '1pack_by_animefy_test_bot',
      '_pack_by_animefy_test_bot',
      'my__pack_by_animefy_test_bot',
      'my-pack_by_animefy_test_bot',
      'päck_by_animefy_test_bot',
      'pack_by_other_bot',
      'packby_animefy_test_bot',
    ]) expect(stickerSetNameProblem(name, bot), name).toBeDefined();
  });

  it('createNewStickerSet refuses bad names and titles, and an occupied name', async () => {
    const api = newBot().api;
    const file = await upload(await webp(512, 512), 's.webp');
    for (const name of ['1pack_by_animefy_test_bot', 'my__pack_by_animefy_test_bot', 'pack_by_other_bot']) {
      const err = await apiError(api.createNewStickerSet(alice.id, name, 'Pack', [still(file)]));
      expect(err.description).toBe('Bad Request: invalid sticker set name is specified');
    }
    expect((await apiError(api.createNewStickerSet(alice.id, SET, '   ', [still(file)]))).description).toBe("Bad Request: Sticker set title can't be empty");
    expect((await apiError(api.createNewStickerSet(alice.id, SET, 'Pack', []))).description).toBe('Bad Request: At least 1 sticker must be specified');
    const tooMany = Array.from({ length: 51 }, () => still(file));
    expect((await apiError(api.createNewStickerSet(alice.id, SET, 'Pack', tooMany))).description).toBe('Bad Request: too many stickers specified');

    expect(await api.createNewStickerSet(alice.id, 'Pack_BY_Animefy_Test_Bot', 'T'.repeat(70), [still(file)])).toBe(true);
    const set = await api.getStickerSet('pack_by_animefy_test_bot'); // names are case-insensitive
    expect(set).toMatchObject({ name: 'Pack_BY_Animefy_Test_Bot', title: 'T'.repeat(64), sticker_type: 'regular' });
    const taken = await apiError(api.createNewStickerSet(alice.id, SET, 'Pack', [still(file)]));
    expect(taken.description).toBe('Bad Request: sticker set name is already occupied');
    fake.occupyStickerSetName('other_by_animefy_test_bot', { ownerId: 777 });
    const occupied = await apiError(api.createNewStickerSet(alice.id, 'OTHER_by_animefy_test_bot', 'Pack', [still(file)]));
    expect(occupied.description).toBe('Bad Request: sticker set name is already occupied');
  });

  it('a set owner must have started the bot in a private chat, and be a user', async () => {
    const api = newBot().api;
    const file = await upload(await webp(512, 512), 's.webp');
    const carol = 1003;
    expect((await apiError(api.createNewStickerSet(carol, SET, 'Pack', [still(file)]))).description).toBe('Bad Request: user not found');
    expect((await apiError(api.addStickerToSet(carol, SET, still(file)))).description).toBe('Bad Request: user not found');
    fake.userText({ chat: group, from: bob, text: 'hi all' }); // known from a group only
    expect((await apiError(api.createNewStickerSet(bob.id, SET, 'Pack', [still(file)]))).description).toBe('Bad Request: PEER_ID_INVALID');
    fake.userText({ chat: bobDm, from: bob, text: '/start' });
    expect(await api.createNewStickerSet(bob.id, SET, 'Pack', [still(file)])).toBe(true);
    fake.markStartedBot(carol);
    expect(await api.createNewStickerSet(carol, 'carol_by_animefy_test_bot', 'Pack', [still(file)])).toBe(true);
    expect((await apiError(api.createNewStickerSet(fake.botUser.id, 'bot_by_animefy_test_bot', 'Pack', [still(file)]))).description).toBe('Bad Request: USER_IS_BOT');
  });

  it('checks static stickers by their bytes: PNG or WEBP, 512 px on the long side, at most 512 KB', async () => {
    const api = newBot().api;
    const ok = await upload(await webp(512, 300), 'wide.webp');
    expect(await api.createNewStickerSet(alice.id, SET, 'Pack', [still(ok)])).toBe(true);
    // An uploaded PNG (attach://) goes into the set as a WEBP.
    expect(await api.addStickerToSet(alice.id, SET, { sticker: new InputFile(await png(300, 512), 'tall.png'), format: 'static', emoji_list: ['👍🏽', '🇺🇦', '1️⃣'] })).toBe(true);
    const set = await api.getStickerSet(SET);
    expect(set.stickers.map((s) => [s.width, s.height, s.emoji])).toEqual([[512, 300, '🙂'], [300, 512, '👍🏽']]);
    expect((await sharp(fake.fileBytes(set.stickers[1].file_id)).metadata()).format).toBe('webp');

    const refusals: Array<[Buffer, string, string]> = [
      [await webp(300, 300), 'small.webp', 'STICKER_PNG_DIMENSIONS'],
      [await webp(600, 512), 'big.webp', 'STICKER_PNG_DIMENSIONS'],
      [await sharp(await png(512, 512)).jpeg().toBuffer(), 'photo.jpg', 'STICKER_PNG_NOPNG'],
      [await noisyWebp(), 'noise.webp', 'file is too big'],
    ];
    for (const [bytes, name, description] of refusals) {
      const err = await apiError(api.addStickerToSet(alice.id, SET, still(await upload(bytes, name))));
      expect(err.description, name).toBe(`Bad Request: ${description}`);
    }
    for (const emoji of [[], ['a'], ['🙂 '], Array.from({ length: 21 }, () => '🙂')]) {
      const err = await apiError(api.addStickerToSet(alice.id, SET, still(ok, emoji)));
      expect(err.description, JSON.stringify(emoji)).toBe('Bad Request: invalid sticker emojis');
    }
    const noFormat = await apiError(api.addStickerToSet(alice.id, SET, { sticker: ok, emoji_list: ['🙂'] } as unknown as InputSticker));
    expect(noFormat.description).toBe("Bad Request: can't parse InputSticker: format not found");
    const unknownFile = await apiError(api.addStickerToSet(alice.id, SET, still('CAACAgnope')));
    expect(unknownFile.description).toBe('Bad Request: wrong file identifier/HTTP URL specified');
    expect((await api.getStickerSet(SET)).stickers).toHaveLength(2);
  });

  it('checks video stickers: VP9 WebM, no audio, 512 px on the long side, at most 3 s and 256 KB', async () => {
    const api = newBot().api;
    const video = (sticker: string): InputSticker => ({ sticker, format: 'video', emoji_list: ['🎬'] });
    const good = await vp9('good.webm', '512x384', 1);
    expect(await api.createNewStickerSet(alice.id, SET, 'Clips', [video(await upload(good, 'good.webm'))])).toBe(true);
    expect((await api.getStickerSet(SET)).stickers[0]).toMatchObject({ width: 512, height: 384, is_video: true, is_animated: false });

    const refusals: Array<[Buffer, string, string]> = [
      [await vp9('long.webm', '512x512', 4), 'long.webm', 'STICKER_VIDEO_LONG'],
      [await vp9('live.webm', '512x512', 4, ['-f', 'webm', '-live', '1']), 'live.webm', 'STICKER_VIDEO_LONG'], // no Duration: block times
      [await vp9('sound.webm', '512x512', 1, ['-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'libopus', '-shortest']), 'sound.webm', 'STICKER_FILE_INVALID'],
      [await vp9('small.webm', '256x256', 1), 'small.webm', 'STICKER_GIF_DIMENSIONS'],
      [await vp9('clip.mkv', '512x512', 1), 'clip.mkv', 'STICKER_VIDEO_NOWEBM'],
      [await webp(512, 512), 'still.webp', 'STICKER_VIDEO_NOWEBM'],
      [Buffer.concat([good, Buffer.alloc(256 * 1024)]), 'padded.webm', 'STICKER_VIDEO_BIG'],
    ];
    for (const [bytes, name, description] of refusals) {
      const err = await apiError(api.addStickerToSet(alice.id, SET, video(await upload(bytes, name))));
      expect(err.description, name).toBe(`Bad Request: ${description}`);
    }
    // Animated (TGS): gzipped Lottie on a 512x512 canvas.
    const lottie = (bytes: Buffer, name: string) => upload(bytes, name).then((sticker): InputSticker => ({ sticker, format: 'animated', emoji_list: ['✨'] }));
    expect(await api.addStickerToSet(alice.id, SET, await lottie(tgs(), 'a.tgs'))).toBe(true);
    expect((await apiError(api.addStickerToSet(alice.id, SET, await lottie(tgs(100), 'small.tgs')))).description).toBe('Bad Request: STICKER_TGS_NOTGS');
    expect((await api.getStickerSet(SET)).stickers.map((s) => [s.is_video, s.is_animated])).toEqual([[true, false], [false, true]]);
  });

  it('reads sizes and durations from WebM headers', async () => {
    expect(readWebm(await vp9('header.webm', '320x512', 2))).toEqual({ docType: 'webm', durationS: 2, tracks: [{ type: 1, codec: 'V_VP9', width: 320, height: 512 }] });
    const live = readWebm(await vp9('header-live.webm', '512x512', 2, ['-f', 'webm', '-live', '1']))!;
    expect(live.durationS).toBeGreaterThan(1.9); // the last frame's start time
    expect(live.durationS).toBeLessThanOrEqual(2);
    expect(readWebm(await webp(512, 512))).toBeUndefined();
  });

  it('addStickerToSet: the owner only, up to 120 stickers, the same sticker once; getStickerSet and sendSticker show the set', async () => {
    const api = newBot().api;
    const first = await upload(await webp(512, 512), 'a.webp');
    const second = await upload(await webp(512, 512, { r: 200, g: 10, b: 10, alpha: 1 }), 'b.webp');
    expect((await apiError(api.addStickerToSet(alice.id, SET, still(first)))).description).toBe('Bad Request: STICKERSET_INVALID');
    expect((await apiError(api.getStickerSet(SET))).description).toBe('Bad Request: STICKERSET_INVALID');
    await api.createNewStickerSet(alice.id, SET, 'Pack', [still(first, ['😀'])]);
    expect(await api.addStickerToSet(alice.id, SET, still(second))).toBe(true);
    // "If exactly the same sticker had already been added to the set, then the set isn't changed."
    expect(await api.addStickerToSet(alice.id, SET, still(second))).toBe(true);
    const set = await api.getStickerSet(SET);
    expect(set.stickers).toHaveLength(2);
    expect(await api.addStickerToSet(alice.id, SET, still(set.stickers[0].file_id))).toBe(true);
    expect((await api.getStickerSet(SET)).stickers).toHaveLength(2);

    // A set sticker is a file of its own: downloadable, and sent as a sticker of the set.
    const sticker = set.stickers[0];
    expect(sticker).toMatchObject({ type: 'regular', width: 512, height: 512, emoji: '😀', set_name: SET, is_animated: false, is_video: false });
    expect(sticker.file_id).not.toBe(first);
    const file = await api.getFile(sticker.file_id);
    const download = await fetch(`${fake.apiRoot}/file/bot${fake.token}/${file.file_path}`);
    expect(Buffer.from(await download.arrayBuffer())).toEqual(fake.fileBytes(first));
    const sent = await api.sendSticker(dm.id, sticker.file_id);
    expect(sent.sticker).toMatchObject({ file_id: sticker.file_id, set_name: SET, emoji: '😀' });

    // Someone else's set, or a set this bot did not make.
    fake.userText({ chat: bobDm, from: bob, text: '/start' });
    expect((await apiError(api.addStickerToSet(bob.id, SET, still(first)))).description).toBe('Bad Request: STICKERSET_INVALID');
    fake.occupyStickerSetName('theirs_by_animefy_test_bot', { ownerId: alice.id });
    expect((await apiError(api.addStickerToSet(alice.id, 'theirs_by_animefy_test_bot', still(first)))).description).toBe('Bad Request: STICKERSET_INVALID');

    // 120 stickers at most.
    fake.fillStickerSet(SET, 119);
    const third = await upload(await webp(512, 512, { r: 10, g: 10, b: 200, alpha: 1 }), 'c.webp');
    expect(await api.addStickerToSet(alice.id, SET, still(third))).toBe(true);
    expect(fake.stickerSet(SET).stickers).toHaveLength(120);
    const full = await apiError(api.addStickerToSet(alice.id, SET, still(await upload(await webp(512, 400), 'd.webp'))));
    expect(full.description).toBe('Bad Request: STICKERS_TOO_MUCH');
    expect((await api.getStickerSet(SET)).stickers).toHaveLength(120);
  });
});
