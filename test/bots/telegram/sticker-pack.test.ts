/**
 * "Add to my pack" (src/bots/telegram/sticker-pack.ts) through the fake Bot API with a real grammY
 * client: the pack is made on the first press and grows after; Telegram's refusals become the
 * AnimefyErrors the user is shown; the name and title rules.
 */
import fs from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { Bot, GrammyError, InputFile, type Api } from 'grammy';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addToMyPack, stickerSetName, stickerSetTitle, type AddToPackOptions } from '#src/bots/telegram/sticker-pack.ts';
import { rejection } from '../../helpers/errors.ts';
import { makeMedia, scratchDir } from '../../helpers/make-media.ts';
import { FakeTelegram, stickerSetNameProblem, type FakeChat, type FakeUser } from '../../fakes/fake-telegram.ts';

const BOT = 'animefy_test_bot';
const alice: FakeUser = { id: 1001, first_name: 'Alice' };
const aliceDm: FakeChat = { id: 1001, type: 'private', first_name: 'Alice' };
const group: FakeChat = { id: -100200, type: 'supergroup', title: 'Anime fans' };

const webp = (width: number, height: number, r = 200) =>
  sharp({ create: { width, height, channels: 4, background: { r, g: 120, b: 60, alpha: 1 } } }).webp().toBuffer();

let fake: FakeTelegram;
let api: Api;

beforeEach(async () => {
  fake = await FakeTelegram.start();
  api = new Bot(fake.token, { client: { apiRoot: fake.apiRoot } }).api;
  fake.userText({ chat: aliceDm, from: alice, text: '/start' });
});
afterEach(async () => {
  await fake.close();
});

/** What the bot sent as a sticker to Alice (a result under a button): its file_id. */
async function sentSticker(bytes: Buffer, name = 'sticker.webp'): Promise<string> {
  return (await api.sendSticker(aliceDm.id, new InputFile(bytes, name))).sticker!.file_id;
}

const press = (sticker: string, user: { id: number; first_name: string } = alice, format: AddToPackOptions['format'] = 'static') =>
  addToMyPack(api, { userId: user.id, botUsername: BOT, firstName: user.first_name, sticker, format, emoji: ['😊'] });

describe('addToMyPack', () => {
  it('the first press makes the pack with the sticker, the next adds to the same pack', async () => {
    const name = stickerSetName(alice.id, BOT);
    const first = await press(await sentSticker(await webp(512, 512)));
    expect(first).toEqual({ created: true, name, url: `https://t.me/addstickers/${name}`, count: 1 });
    expect(fake.callsTo(['addStickerToSet', 'createNewStickerSet']).map((c) => [c.method, c.status])).toEqual([
      ['addStickerToSet', 400],
      ['createNewStickerSet', 200],
    ]);
    expect(fake.stickerSet(name)).toMatchObject({ name, title: "Alice's Animefy stickers", sticker_type: 'regular', stickers: [{ emoji: '😊', width: 512, height: 512 }] });

    const second = await press(await sentSticker(await webp(512, 400, 20)));
    expect(second).toEqual({ created: false, name, url: `https://t.me/addstickers/${name}`, count: 2 });
    expect(fake.stickerSet(name).stickers.map((s: any) => [s.width, s.height])).toEqual([[512, 512], [512, 400]]);
  });

  it('two presses at once make one pack with both stickers', async () => {
    const [a, b] = [await sentSticker(await webp(512, 512)), await sentSticker(await webp(512, 512, 30))];
    const results = await Promise.all([press(a), press(b)]);
    expect(results.map((r) => r.created).sort()).toEqual([false, true]);
    expect(fake.stickerSet(stickerSetName(alice.id, BOT)).stickers).toHaveLength(2);
  });

  it('a video sticker goes into the same pack', async () => {
    const scratch = await scratchDir();
    try {
      const clip = await makeMedia(scratch, 'clip.webm', ['-f', 'lavfi', '-i', 'color=c=blue:s=512x512:r=30:d=1', '-c:v', 'libvpx-vp9', '-deadline', 'realtime']);
      await press(await sentSticker(await webp(512, 512)));
      const added = await press(await sentSticker(await fs.readFile(clip), 'clip.webm'), alice, 'video');
      expect(added).toMatchObject({ created: false, count: 2 });
      expect(fake.stickerSet(added.name).stickers.map((s: any) => s.is_video)).toEqual([false, true]);
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
  });

  it('a full pack (120 stickers) is STICKER_SET_FULL', async () => {
    const { name } = await press(await sentSticker(await webp(512, 512)));
    fake.fillStickerSet(name, 120);
    const err = await rejection(press(await sentSticker(await webp(512, 512, 40))));
    expect(err.code).toBe('STICKER_SET_FULL');
    expect(err.params).toEqual({ limit: 120 });
    expect(err.message).toMatch(/full \(120 stickers\)/);
    expect(err.cause).toBeInstanceOf(GrammyError);
  });

  it('a name another set holds is STICKER_SET_NAME_TAKEN', async () => {
    const name = stickerSetName(alice.id, BOT);
    fake.occupyStickerSetName(name, { ownerId: 4242 });
    const err = await rejection(press(await sentSticker(await webp(512, 512))));
    expect(err.code).toBe('STICKER_SET_NAME_TAKEN');
    expect(err.params).toEqual({ name });
    expect(fake.callsTo(['addStickerToSet', 'createNewStickerSet']).map((c) => c.method)).toEqual(['addStickerToSet', 'createNewStickerSet', 'addStickerToSet']);
  });

  it('someone who never started the bot in private is STICKER_NEEDS_PRIVATE_CHAT', async () => {
    const sticker = await sentSticker(await webp(512, 512));
    const stranger = { id: 3003, first_name: 'Carol' };
    expect((await rejection(press(sticker, stranger))).code).toBe('STICKER_NEEDS_PRIVATE_CHAT'); // "user not found"
    const fromGroup = { id: 3004, first_name: 'Dave' };
    fake.userText({ chat: group, from: fromGroup, text: 'nice' });
    const err = await rejection(press(sticker, fromGroup)); // PEER_ID_INVALID
    expect(err.code).toBe('STICKER_NEEDS_PRIVATE_CHAT');
    expect((err.cause as GrammyError).description).toBe('Bad Request: PEER_ID_INVALID');
    fake.markStartedBot(fromGroup.id);
    expect(await press(sticker, fromGroup)).toMatchObject({ created: true, count: 1 });
  });

  it('a sticker Telegram refuses (over 512 KB, not 512 px) is STICKER_REJECTED with the reason', async () => {
    const heavy = await sharp(randomBytes(512 * 512 * 3), { raw: { width: 512, height: 512, channels: 3 } }).webp({ lossless: true }).toBuffer();
    expect(heavy.length).toBeGreaterThan(600 * 1024);
    const big = await rejection(press(await sentSticker(heavy)));
    expect(big.code).toBe('STICKER_REJECTED');
    expect(big.params).toEqual({ reason: 'it is over 512 KB' });
    const small = await rejection(press(await sentSticker(await webp(300, 300))));
    expect(small.code).toBe('STICKER_REJECTED');
    expect(small.params).toEqual({ reason: 'it must be 512 px on its longest side' });
    expect(small.message).toBe('Telegram turned that sticker down (it must be 512 px on its longest side). Please try another photo.');
    // Refused on the first press, so no pack was made.
    expect(fake.stickerSet(stickerSetName(alice.id, BOT))).toBeUndefined();
  });

  it('other failures are rethrown as they are', async () => {
    const sticker = await sentSticker(await webp(512, 512));
    fake.failNext('addStickerToSet', { status: 500 });
    const err = await press(sticker).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(GrammyError);
    expect((err as GrammyError).error_code).toBe(500);
    const wrongEmoji = await addToMyPack(api, { userId: alice.id, botUsername: BOT, firstName: 'Alice', sticker, format: 'static', emoji: [] }).then(() => undefined, (e: unknown) => e);
    expect((wrongEmoji as GrammyError).description).toBe('Bad Request: invalid sticker emojis');
  });
});

describe('stickerSetName', () => {
  const rules = (name: string, bot: string) => {
    expect(stickerSetNameProblem(name, bot), name).toBeUndefined();
    expect(name).toMatch(/^[A-Za-z][A-Za-z0-9_]{0,63}$/);
    expect(name).not.toContain('__');
  };

  it('is deterministic and follows the rules for small and large ids', () => {
    expect(stickerSetName(123, 'animefy_test_bot')).toBe('animefy_u123_by_animefy_test_bot');
    expect(stickerSetName(123, '@Animefy_Test_Bot')).toBe('animefy_u123_by_animefy_test_bot');
    for (const id of [1, 777000, 2 ** 31 - 1, 8_123_456_789, Number.MAX_SAFE_INTEGER]) rules(stickerSetName(id, 'animefy_test_bot'), 'animefy_test_bot');
    expect(stickerSetName(5, 'x_bot')).not.toBe(stickerSetName(6, 'x_bot'));
  });

  it('stays within 64 characters for the longest usernames', () => {
    const longest = `a${'b_'.repeat(14)}bot`; // 32 characters, the longest Telegram username
    expect(longest).toHaveLength(32);
    rules(stickerSetName(Number.MAX_SAFE_INTEGER, longest), longest);
    expect(stickerSetName(Number.MAX_SAFE_INTEGER, longest)).toMatch(/^animefy_u\d+_by_/);
    // Longer than Telegram allows: the shorter prefix, still unique per user.
    const longer = `z${'9'.repeat(44)}bot`;
    const name = stickerSetName(Number.MAX_SAFE_INTEGER, longer);
    rules(name, longer);
    expect(name).toBe(`a${Number.MAX_SAFE_INTEGER.toString(36)}_by_${longer}`);
    expect(() => stickerSetName(1, `z${'9'.repeat(60)}bot`)).toThrow(RangeError);
  });

  it('keeps underscores single, and refuses usernames no valid name can end with', () => {
    rules(stickerSetName(42, 'my_1_bot'), 'my_1_bot');
    expect(() => stickerSetName(42, '_lead_bot')).toThrow(RangeError); // "_by__lead_bot"
    expect(() => stickerSetName(42, 'double__bot')).toThrow(RangeError);
    expect(() => stickerSetName(42, 'bad-bot')).toThrow(RangeError);
    expect(() => stickerSetName(0, 'x_bot')).toThrow(RangeError);
    expect(() => stickerSetName(1.5, 'x_bot')).toThrow(RangeError);
  });
});

describe('stickerSetTitle', () => {
  it('names the pack after the user, in at most 64 characters', () => {
    expect(stickerSetTitle('Alice')).toBe("Alice's Animefy stickers");
    expect(stickerSetTitle('  \u0000 ')).toBe('Animefy stickers');
    const long = stickerSetTitle('👩‍👩‍👧‍👦'.repeat(10));
    expect(long.length).toBeLessThanOrEqual(64);
    expect(long).toMatch(/^(👩‍👩‍👧‍👦)+'s Animefy stickers$/u); // whole graphemes only
    expect(stickerSetTitle('N'.repeat(64))).toBe(`${'N'.repeat(45)}'s Animefy stickers`);
  });
});
