import type { InlineKeyboard } from 'grammy';
import { describe, expect, it } from 'vitest';
import {
  CALLBACK_DATA_MAX_BYTES,
  type CallbackAction,
  cancelKeyboard,
  decodeCallback,
  defaultStyleKeyboard,
  encodeCallback,
  resultKeyboard,
  styleKeyboard,
} from '#src/bots/telegram/keyboards.ts';
import { STYLES } from '#src/pipeline/styles.ts';

/** A token as ReferenceStore makes them (10 URL-safe characters). */
const token = 'AbC-dE_f9z';

interface Button {
  text: string;
  callback_data: string;
}

function buttons(keyboard: InlineKeyboard): Button[] {
  return keyboard.inline_keyboard.flat().map((b) => {
    expect(b).toHaveProperty('callback_data');
    return b as Button;
  });
}

function expectValid(keyboard: InlineKeyboard): CallbackAction[] {
  return buttons(keyboard).map((b) => {
    expect(Buffer.byteLength(b.callback_data)).toBeLessThanOrEqual(CALLBACK_DATA_MAX_BYTES);
    const decoded = decodeCallback(b.callback_data);
    expect(decoded, b.callback_data).toBeDefined();
    return decoded!;
  });
}

describe('callback data', () => {
  const actions: CallbackAction[] = [
    { action: 'pick', token, style: 'shinkai' },
    { action: 'again', token },
    { action: 'upscale', token },
    { action: 'delete', userId: 123456789 },
    { action: 'delete', userId: 0 },
    { action: 'cancel', token },
    { action: 'default', style: 'hayao' },
    { action: 'default', style: 'ask' },
  ];

  it('round-trips every action', () => {
    for (const action of actions) {
      const data = encodeCallback(action);
      expect(Buffer.byteLength(data)).toBeLessThanOrEqual(64);
      expect(decodeCallback(data)).toEqual(action);
    }
  });

  it('gives each action its own encoding', () => {
    const encoded = [
      encodeCallback({ action: 'again', token }),
      encodeCallback({ action: 'upscale', token }),
      encodeCallback({ action: 'cancel', token }),
    ];
    expect(new Set(encoded).size).toBe(3);
  });

  it('round-trips a large Telegram user id', () => {
    const userId = 2 ** 52 - 1;
    expect(decodeCallback(encodeCallback({ action: 'delete', userId }))).toEqual({ action: 'delete', userId });
  });

  it('decodes garbage to undefined', () => {
    for (const data of ['', ':', 'z:abc', 'pick:abc:hayao', 'p', 'p:tok', 'p::hayao', 'a', 'a:', 'u:', 'x:', 's:', 'd:', 'd:abc', 'd:1.5', 'd:--5', 'hello world']) {
      expect(decodeCallback(data), JSON.stringify(data)).toBeUndefined();
    }
  });

  it('a Delete button may belong to a chat (an anonymous admin or a channel asked): a negative id', () => {
    expect(decodeCallback(encodeCallback({ action: 'delete', userId: -1001234567890 }))).toEqual({ action: 'delete', userId: -1001234567890 });
  });

  it('throws when the data would not fit in 64 bytes', () => {
    expect(() => encodeCallback({ action: 'again', token: 'x'.repeat(63) })).toThrow(/64 bytes/);
    expect(() => encodeCallback({ action: 'pick', token, style: 's'.repeat(60) })).toThrow(/64 bytes/);
    // Bytes, not characters: 20 emoji are 80 bytes.
    expect(() => encodeCallback({ action: 'default', style: '🎨'.repeat(20) })).toThrow(/64 bytes/);
    expect(() => encodeCallback({ action: 'again', token: 'x'.repeat(62) })).not.toThrow();
  });
});

describe('keyboards', () => {
  it('the style keyboard lists every style in registry order, two per row, each picking it for the token', () => {
    const keyboard = styleKeyboard(token);
    const decoded = expectValid(keyboard);
    expect(decoded).toEqual(STYLES.map((s) => ({ action: 'pick', token, style: s.id })));
    expect(buttons(keyboard).map((b) => b.text)).toEqual(STYLES.map((s) => `${s.emoji} ${s.label}`));
    const rows = keyboard.inline_keyboard.filter((row) => row.length > 0);
    expect(rows.slice(0, -1).every((row) => row.length === 2)).toBe(true);
    expect(rows.at(-1)!.length).toBe(STYLES.length % 2 === 0 ? 2 : 1);
  });

  it('the default-style keyboard sets each style, then offers "ask every time" on its own row', () => {
    const keyboard = defaultStyleKeyboard();
    const decoded = expectValid(keyboard);
    expect(decoded).toEqual([...STYLES.map((s) => ({ action: 'default', style: s.id })), { action: 'default', style: 'ask' }]);
    const rows = keyboard.inline_keyboard.filter((row) => row.length > 0);
    expect(rows.at(-1)).toHaveLength(1);
    expect(rows.at(-1)![0].text).toMatch(/Ask me every time/);
  });

  it('the result keyboard has another style, upscale and delete', () => {
    const keyboard = resultKeyboard({ token, requesterId: 42, canUpscale: true });
    expect(expectValid(keyboard)).toEqual([
      { action: 'again', token },
      { action: 'upscale', token },
      { action: 'delete', userId: 42 },
    ]);
    expect(buttons(keyboard).map((b) => b.text)).toEqual(['🎨 Another style', '🔍 Upscale', '🗑 Delete']);
  });

  it('the result keyboard has no Upscale button when it cannot upscale', () => {
    const keyboard = resultKeyboard({ token, requesterId: 42, canUpscale: false });
    expect(expectValid(keyboard).map((a) => a.action)).toEqual(['again', 'delete']);
    expect(buttons(keyboard).some((b) => /Upscale/.test(b.text))).toBe(false);
  });

  it('the cancel keyboard cancels the token', () => {
    expect(expectValid(cancelKeyboard(token))).toEqual([{ action: 'cancel', token }]);
  });

  it('with the longest Telegram user id and a full-length token, every button still fits', () => {
    const longToken = 'A'.repeat(10);
    for (const keyboard of [styleKeyboard(longToken), resultKeyboard({ token: longToken, requesterId: 2 ** 52, canUpscale: true }), cancelKeyboard(longToken)]) {
      expectValid(keyboard);
    }
  });
});
