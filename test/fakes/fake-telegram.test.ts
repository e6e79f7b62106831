/**
 * Self-test of the fake Telegram Bot API server, driven by the real grammY client over HTTP
 * (long polling with bot.start() and @grammyjs/runner, multipart uploads, downloads, errors, 429s).
 */
import { autoRetry } from '@grammyjs/auto-retry';
import { run } from '@grammyjs/runner';
import { Bot, GrammyError, InlineKeyboard, InputFile } from 'grammy';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeTelegram, type FakeChat, type FakeUser } from './fake-telegram.ts';

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
