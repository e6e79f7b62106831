/**
 * The Telegram bot against the Bot API's documented behaviour, beyond the happy path: albums (one
 * update per item), anonymous admins (`sender_chat`), privacy-mode-safe replies, forum topics,
 * spoilers, the 2560 px photo limit, 48-hour deletes, flood control on a finished result, and a group
 * that becomes a supergroup mid-job. `startBots` with the real grammY client and real models, long
 * polling the fake Bot API server (test/fakes/fake-telegram.ts).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBots, type RunningBots } from '#src/app/bot.ts';
import { ChatPacer, StatusMessage } from '#src/bots/telegram/status-message.ts';
import { parseConfig } from '#src/config.ts';
import { ERROR_MESSAGES } from '#src/errors.ts';
import { childLogger } from '#src/log.ts';
import { fixture } from '../../helpers/fixtures.ts';
import { FakeTelegram, GROUP_ANONYMOUS_BOT, type FakeChat, type FakeUser, type RecordedCall } from '../../fakes/fake-telegram.ts';

const alice: FakeUser = { id: 2001, first_name: 'Alice' };
const bob: FakeUser = { id: 2002, first_name: 'Bob' };
const carol: FakeUser = { id: 2003, first_name: 'Carol' };
// One user per scenario from here on: each may start three jobs per window.
const dave: FakeUser = { id: 2004, first_name: 'Dave' };
const erin: FakeUser = { id: 2005, first_name: 'Erin' };
const frank: FakeUser = { id: 2006, first_name: 'Frank' };
const gina: FakeUser = { id: 2007, first_name: 'Gina' };
const ivan: FakeUser = { id: 2008, first_name: 'Ivan' };
const judy: FakeUser = { id: 2009, first_name: 'Judy' };
const aliceDm: FakeChat = { id: 2001, type: 'private', first_name: 'Alice' };
const erinDm: FakeChat = { id: 2005, type: 'private', first_name: 'Erin' };
const frankDm: FakeChat = { id: 2006, type: 'private', first_name: 'Frank' };
const group: FakeChat = { id: -100300, type: 'supergroup', title: 'Cosplay' };
const forum: FakeChat = { id: -100400, type: 'supergroup', title: 'Forum', is_forum: true };
const RESULT_METHODS = ['sendPhoto', 'sendDocument', 'sendAnimation', 'sendVideo', 'sendSticker'];

let fake: FakeTelegram;
let bots: RunningBots;
let dataDir: string;

beforeAll(async () => {
  fake = await FakeTelegram.start();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'animefy-telegram-platform-'));
  const config = parseConfig({
    ...process.env,
    TELEGRAM_BOT_TOKEN: fake.token,
    TELEGRAM_API_ROOT: fake.apiRoot,
    TELEGRAM_WEBHOOK_URL: '',
    DISCORD_TOKEN: '',
    ANIMEFY_REDIS_URL: '',
    ANIMEFY_METRICS_PORT: '',
    ANIMEFY_DATA_DIR: dataDir,
    ANIMEFY_CONCURRENCY: '1',
    ANIMEFY_WORKING_SIZE: '384',
    // Three jobs per window: an album of four must count as one.
    ANIMEFY_RATE_LIMIT_JOBS: '3',
    ANIMEFY_MAX_JOBS_PER_USER: '2',
    ANIMEFY_SHUTDOWN_GRACE_S: '0',
  });
  // auto-retry sits out flood waits up to 1 s here, so a 2 s one reaches the bot's own result retry.
  bots = await startBots(config, { telegram: { bot: { maxRetryDelayS: 1 } } });
}, 120_000);

afterAll(async () => {
  await bots?.stop();
  await fake?.close();
  await fs.rm(dataDir, { recursive: true, force: true });
});

function resultFor(message: any, since = 0, methods = RESULT_METHODS): Promise<RecordedCall> {
  return fake.waitForCall(
    methods,
    (c) => c.status === 200 && c.params.reply_parameters?.message_id === message.message_id && Number(c.params.chat_id) === message.chat.id,
    { since, timeoutMs: 90_000 },
  );
}

function button(call: RecordedCall, label: RegExp): string {
  const found = (call.params.reply_markup?.inline_keyboard ?? []).flat().find((b: any) => label.test(b.text));
  if (!found) throw new Error(`no button ${label}`);
  return found.callback_data;
}

async function answerTo(queryId: string): Promise<{ text?: string }> {
  await fake.waitForCall('answerCallbackQuery', (c) => c.params.callback_query_id === queryId, { timeoutMs: 30_000 });
  return fake.callbackAnswer(queryId)!;
}

describe('Telegram platform rules', () => {
  it('an album of four arrives one item per update and runs as one job: all four results, in album order, within a limit of three', async () => {
    const since = fake.calls.length;
    const photos = ['portrait_frontal_1.jpg', 'portrait_frontal_2.jpg', 'portrait_glasses_1.jpg', 'portrait_frontal_1.jpg'];
    const items = [];
    for (const [i, name] of photos.entries()) {
      items.push(await fake.userPhoto({ chat: aliceDm, from: alice, bytes: fixture(name), media_group_id: 'album-1', ...(i === 0 ? { caption: 'hayao' } : {}) }));
    }
    const results = await Promise.all(items.map((m) => resultFor(m, since)));
    for (const r of results) expect(r.params.caption).toMatch(/Hayao/);
    // In order: each result was sent after the previous item's.
    const order = results.map((r) => fake.calls.indexOf(r));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // No item was refused by the rate limit or the per-user queue limit.
    const texts = fake.calls.slice(since).filter((c) => c.method === 'sendMessage' || c.method === 'editMessageText').map((c) => String(c.params.text));
    expect(texts.join('\n')).not.toMatch(/going fast|already have/);
  });

  it('an anonymous admin posts as the group: the job is the group\'s, so another admin may delete its result and a member may not', async () => {
    fake.setMemberStatus(group.id, bob.id, 'administrator');
    fake.setMemberStatus(group.id, carol.id, 'member');
    const since = fake.calls.length;
    const message = await fake.userPhoto({ chat: group, from: GROUP_ANONYMOUS_BOT, sender_chat: group, bytes: fixture('portrait_frontal_2.jpg'), caption: '/animefy@animefy_test_bot shinkai' });
    const result = await resultFor(message, since);
    const del = button(result, /Delete/);
    expect(del).toContain(String(group.id)); // the requester is the group, not the placeholder account

    const refused = fake.pressButton({ from: carol, message: result.result, data: del });
    expect((await answerTo(refused)).text).toBe(ERROR_MESSAGES.NOT_YOUR_BUTTON);
    const allowed = fake.pressButton({ from: bob, message: result.result, data: del });
    expect((await answerTo(allowed)).text).toMatch(/Deleted/);
    expect(fake.botMessage(group.id, result.result.message_id)).toBeUndefined();
  });

  it('"/animefy@bot" as a reply to someone else\'s photo works in a group (what privacy mode delivers)', async () => {
    const photo = await fake.userPhoto({ chat: group, from: bob, bytes: fixture('portrait_frontal_1.jpg') });
    const since = fake.calls.length;
    fake.userText({ chat: group, from: carol, text: '/animefy@animefy_test_bot cartoon', reply_to_message: photo });
    const result = await resultFor(photo, since);
    expect(result.params.caption).toMatch(/Cartoon/);
  });

  it('in a forum topic the chat action names the topic; a spoilered photo comes back spoilered; an upscaled one as a document', async () => {
    const since = fake.calls.length;
    const message = await fake.userPhoto({
      chat: forum,
      from: dave,
      bytes: fixture('portrait_glasses_1.jpg'),
      caption: '/animefy@animefy_test_bot sketch',
      has_spoiler: true,
      is_topic_message: true,
      message_thread_id: 77,
    });
    const result = await resultFor(message, since);
    expect(result.method).toBe('sendPhoto');
    expect(result.params.has_spoiler).toBe(true);
    const actions = fake.callsTo('sendChatAction').filter((c) => Number(c.params.chat_id) === forum.id);
    expect(actions.length).toBeGreaterThan(0);
    for (const a of actions) expect(a).toMatchObject({ status: 200, params: { message_thread_id: 77 } });

    const before = fake.calls.length;
    fake.pressButton({ from: dave, message: result.result, data: button(result, /Upscale/) });
    const upscaled = await resultFor(message, before);
    expect(upscaled.method).toBe('sendDocument'); // sendPhoto would shrink it back to 2560 px and recompress it
  });

  it('Delete answers once the message is gone, and says so when Telegram\'s 48 hours have passed', async () => {
    const since = fake.calls.length;
    const message = await fake.userPhoto({ chat: erinDm, from: erin, bytes: fixture('portrait_frontal_2.jpg'), caption: 'cartoon' });
    const first = await resultFor(message, since);
    const before = fake.calls.length;
    const second = fake.pressButton({ from: erin, message: first.result, data: button(first, /Another style/) });
    await answerTo(second);
    const keyboard = await fake.waitForCall('sendMessage', (c) => /Which style/.test(String(c.params.text)), { since: before });
    fake.pressButton({ from: erin, message: keyboard.result, data: button(keyboard, /Hayao/) });
    const old = await resultFor(message, before);

    fake.ageMessage(erinDm.id, old.result.message_id, 49);
    const tooOld = fake.pressButton({ from: erin, message: old.result, data: button(old, /Delete/) });
    expect((await answerTo(tooOld)).text).toBe(ERROR_MESSAGES.TOO_OLD_TO_DELETE);
    expect(fake.botMessage(erinDm.id, old.result.message_id)).toBeDefined();

    const fresh = fake.pressButton({ from: erin, message: first.result, data: button(first, /Delete/) });
    expect((await answerTo(fresh)).text).toMatch(/Deleted/);
    const deleted = fake.calls.findIndex((c) => c.method === 'deleteMessage' && c.params.message_id === first.result.message_id && c.status === 200);
    const answered = fake.calls.findIndex((c) => c.method === 'answerCallbackQuery' && c.params.callback_query_id === fresh);
    expect(deleted).toBeGreaterThan(-1);
    expect(deleted).toBeLessThan(answered);
  });

  it('a finished result held up by flood control past auto-retry\'s cap is still sent, after the wait Telegram asked for', async () => {
    fake.failNext('sendPhoto', { status: 429, retryAfter: 2 });
    const since = fake.calls.length;
    const message = await fake.userPhoto({ chat: frankDm, from: frank, bytes: fixture('portrait_frontal_1.jpg'), caption: 'sketch' });
    const refused = await fake.waitForCall('sendPhoto', (c) => c.status === 429, { since, timeoutMs: 90_000 });
    const sent = await resultFor(message, since);
    expect(sent.at - refused.at).toBeGreaterThanOrEqual(1900);
  });

  it('a group that becomes a supergroup mid-job: the result follows to the new id, and so does the default style', async () => {
    const old: FakeChat = { id: -5001, type: 'group', title: 'Old group' };
    const upgraded: FakeChat = { id: -1005001, type: 'supergroup', title: 'Old group' };
    fake.setMemberStatus(old.id, alice.id, 'administrator');
    fake.userText({ chat: old, from: alice, text: '/style hayao' });
    await fake.waitForCall('sendMessage', (c) => Number(c.params.chat_id) === old.id && /default style/.test(String(c.params.text)));

    const since = fake.calls.length;
    const message = await fake.userPhoto({ chat: old, from: alice, bytes: fixture('portrait_frontal_2.jpg'), caption: '/animefy@animefy_test_bot' });
    await fake.waitForCall('sendMessage', (c) => Number(c.params.chat_id) === old.id, { since }); // the status message: the job is in flight
    fake.migrateChat(old, upgraded);
    const result = await fake.waitForCall(RESULT_METHODS, (c) => c.status === 200 && Number(c.params.chat_id) === upgraded.id, { since, timeoutMs: 90_000 });
    expect(result.params.caption).toMatch(/Hayao/);
    expect(fake.calls.slice(since).some((c) => Number(c.params.chat_id) === old.id && c.status === 400)).toBe(true);

    // In the supergroup the saved default applies: no style keyboard.
    const later = fake.calls.length;
    const next = await fake.userPhoto({ chat: upgraded, from: alice, bytes: fixture('portrait_glasses_1.jpg'), caption: '/animefy@animefy_test_bot' });
    expect((await resultFor(next, later)).params.caption).toMatch(/Hayao/);
    expect(message.message_id).toBeGreaterThan(0);
  });

  it('the migration service message alone moves the default style too', async () => {
    const old: FakeChat = { id: -5002, type: 'group', title: 'Quiet group' };
    const upgraded: FakeChat = { id: -1005002, type: 'supergroup', title: 'Quiet group' };
    fake.setMemberStatus(old.id, gina.id, 'creator');
    fake.userText({ chat: old, from: gina, text: '/style cartoon' });
    await fake.waitForCall('sendMessage', (c) => Number(c.params.chat_id) === old.id && /default style/.test(String(c.params.text)));
    fake.migrateChat(old, upgraded, { announce: true, by: gina });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const since = fake.calls.length;
    const next = await fake.userPhoto({ chat: upgraded, from: gina, bytes: fixture('portrait_frontal_1.jpg'), caption: '/animefy@animefy_test_bot' });
    expect((await resultFor(next, since)).params.caption).toMatch(/Cartoon/);
  });
});

describe('picking a person', () => {
  function buttonsOf(call: RecordedCall): { text: string; callback_data: string }[] {
    return (call.params.reply_markup?.inline_keyboard ?? []).flat();
  }

  it('"/animefy person" on a group photo answers with the numbered people and a button each; only the requester picks; the pick becomes anime', async () => {
    const since = fake.calls.length;
    const photo = await fake.userPhoto({ chat: group, from: ivan, bytes: fixture('group_3faces.jpg'), caption: '/animefy@animefy_test_bot person hayao' });
    const preview = await resultFor(photo, since);
    expect(preview.method).toBe('sendPhoto');
    expect(preview.params.caption).toMatch(/people, numbered left to right\. Who should become anime\?/);
    const labels = buttonsOf(preview).map((b) => b.text);
    expect(labels.length).toBeGreaterThanOrEqual(3);
    expect(labels.slice(0, -1)).toEqual(labels.slice(0, -1).map((_, i) => String(i + 1)));
    expect(labels[labels.length - 1]).toMatch(/All/);

    const two = buttonsOf(preview)[1].callback_data;
    const refused = fake.pressButton({ from: judy, message: preview.result, data: two });
    expect((await answerTo(refused)).text).toBe(ERROR_MESSAGES.NOT_YOUR_BUTTON);
    const before = fake.calls.length;
    fake.pressButton({ from: ivan, message: preview.result, data: two });
    const result = await resultFor(photo, before);
    expect(result.params.caption).toMatch(/Hayao/);
    expect(result.params.caption).toMatch(/person 2/);
  });

  it('"/erase" as a reply to a group photo: the numbers, then the picked person is gone and only Delete is offered', async () => {
    const photo = await fake.userPhoto({ chat: group, from: carol, bytes: fixture('group_3faces.jpg') });
    const since = fake.calls.length;
    fake.userText({ chat: group, from: judy, text: '/erase@animefy_test_bot', reply_to_message: photo });
    const preview = await resultFor(photo, since);
    expect(preview.params.caption).toMatch(/Who should I erase\?/);
    expect(buttonsOf(preview).map((b) => b.text)).not.toContain('👥 All');
    const before = fake.calls.length;
    fake.pressButton({ from: judy, message: preview.result, data: buttonsOf(preview)[0].callback_data });
    const erased = await resultFor(photo, before);
    expect(erased.params.caption).toMatch(/Erased: person 1/);
    expect(buttonsOf(erased).map((b) => b.text)).toEqual(['🗑 Delete']);
  });
});

describe('status edits in busy groups', () => {
  /** A Bot API stand-in that records edits (the pacing logic is what is under test). */
  function recordingApi() {
    const edits: { text: string; at: number }[] = [];
    const api = { editMessageText: async (_c: number, _m: number, text: string) => (edits.push({ text, at: Date.now() }), true) } as any;
    return { api, edits };
  }

  it('a group gets at most one edit per 5 s, and no edit that only moves the percentage; a private chat gets every stage at its own pace', async () => {
    const pacer = new ChatPacer(200, 1000); // shortened: 200 ms in private chats, 1 s in groups
    const log = childLogger({ module: 'test' });
    const inGroup = recordingApi();
    const inPrivate = recordingApi();
    const groupStatus = new StatusMessage(inGroup.api, -1, 1, 'Queued', pacer, log);
    const privateStatus = new StatusMessage(inPrivate.api, 1, 1, 'Queued', pacer, log);
    const texts = ['🎨 Painting… 10%\n▰▱▱▱▱▱▱▱▱▱', '🎨 Painting… 40%\n▰▰▰▰▱▱▱▱▱▱', '🙂 Drawing faces… 0%\n▱▱▱▱▱▱▱▱▱▱', '🙂 Drawing faces… 60%\n▰▰▰▰▰▰▱▱▱▱'];
    for (const text of texts) {
      groupStatus.update(text);
      privateStatus.update(text);
      await new Promise((resolve) => setTimeout(resolve, 450));
    }
    await groupStatus.finish('done');
    await privateStatus.finish('done');
    const groupTexts = inGroup.edits.map((e) => e.text);
    expect(groupTexts).toEqual([texts[0], texts[2], 'done']); // the 40% and 60% moves were skipped
    for (let i = 1; i < inGroup.edits.length; i++) expect(inGroup.edits[i].at - inGroup.edits[i - 1].at).toBeGreaterThanOrEqual(990);
    expect(inPrivate.edits.map((e) => e.text)).toEqual([...texts, 'done']);
    expect(new ChatPacer(2000).groupIntervalMs).toBe(5000); // the real default
  });
});
