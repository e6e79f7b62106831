/**
 * Inline keyboards and their callback data. Every button's data is `<action>:<args>` and must fit
 * Telegram's 64-byte limit: buttons carry a short reference token, never a file_id.
 */
import { InlineKeyboard } from 'grammy';
import { FACE_LOOKS, type FaceLook } from '../../pipeline/modes.ts';
import { STYLES } from '../../pipeline/styles.ts';

export const CALLBACK_DATA_MAX_BYTES = 64;

export type CallbackAction =
  /** Run the referenced media in a style (from the style keyboard). */
  | { action: 'pick'; token: string; style: string }
  /** Show the style keyboard for a result's original media. */
  | { action: 'again'; token: string }
  /** Run the referenced media again, upscaled ×2. */
  | { action: 'upscale'; token: string }
  /** Run the referenced media again with the other face look (keep faces ↔ anime faces). */
  | { action: 'faces'; token: string }
  /** Delete a result message; only `userId` may. */
  | { action: 'delete'; userId: number }
  /** Cancel a queued or running job. */
  | { action: 'cancel'; token: string }
  /** Set the chat's default style (`ask`: none, ask every time). */
  | { action: 'default'; style: string }
  /** From the numbered people preview: run the referenced job on person `pick` (or everyone). */
  | { action: 'person'; token: string; pick: number | 'all' }
  /** Under a sticker or emoji: an animated emoji of the referenced media with the next effect. */
  | { action: 'effect'; token: string }
  /** Under a sticker or emoji: add the sticker in this message to the presser's own pack. */
  | { action: 'pack' };

const PREFIX = { pick: 'p', again: 'a', upscale: 'u', faces: 'f', delete: 'd', cancel: 'x', default: 's', person: 'h', effect: 'e', pack: 'k' } as const;

export function encodeCallback(value: CallbackAction): string {
  let data: string;
  switch (value.action) {
    case 'pick':
      data = `${PREFIX.pick}:${value.token}:${value.style}`;
      break;
    case 'again':
    case 'upscale':
    case 'faces':
    case 'cancel':
    case 'effect':
      data = `${PREFIX[value.action]}:${value.token}`;
      break;
    case 'pack':
      data = PREFIX.pack;
      break;
    case 'delete':
      data = `${PREFIX.delete}:${value.userId}`;
      break;
    case 'default':
      data = `${PREFIX.default}:${value.style}`;
      break;
    case 'person':
      data = `${PREFIX.person}:${value.token}:${value.pick}`;
      break;
  }
  if (Buffer.byteLength(data) > CALLBACK_DATA_MAX_BYTES) throw new Error(`callback data over 64 bytes: ${data}`);
  return data;
}

export function decodeCallback(data: string): CallbackAction | undefined {
  const [prefix, a, b] = data.split(':');
  switch (prefix) {
    case PREFIX.pick:
      return a && b ? { action: 'pick', token: a, style: b } : undefined;
    case PREFIX.again:
      return a ? { action: 'again', token: a } : undefined;
    case PREFIX.upscale:
      return a ? { action: 'upscale', token: a } : undefined;
    case PREFIX.faces:
      return a ? { action: 'faces', token: a } : undefined;
    case PREFIX.cancel:
      return a ? { action: 'cancel', token: a } : undefined;
    case PREFIX.effect:
      return a ? { action: 'effect', token: a } : undefined;
    case PREFIX.pack:
      return { action: 'pack' };
    case PREFIX.delete:
      return /^-?\d+$/.test(a ?? '') ? { action: 'delete', userId: Number(a) } : undefined;
    case PREFIX.default:
      return a ? { action: 'default', style: a } : undefined;
    case PREFIX.person:
      if (!a) return undefined;
      if (b === 'all') return { action: 'person', token: a, pick: 'all' };
      return /^[1-9]\d{0,2}$/.test(b ?? '') ? { action: 'person', token: a, pick: Number(b) } : undefined;
    default:
      return undefined;
  }
}

/** Every style from the registry, two per row. */
export function styleKeyboard(token: string): InlineKeyboard {
  const keyboard = new InlineKeyboard();
  STYLES.forEach((style, i) => {
    keyboard.text(`${style.emoji} ${style.label}`, encodeCallback({ action: 'pick', token, style: style.id }));
    if (i % 2 === 1) keyboard.row();
  });
  return keyboard;
}

/** The /style keyboard: pick the chat's default, or go back to being asked. */
export function defaultStyleKeyboard(): InlineKeyboard {
  const keyboard = new InlineKeyboard();
  STYLES.forEach((style, i) => {
    keyboard.text(`${style.emoji} ${style.label}`, encodeCallback({ action: 'default', style: style.id }));
    if (i % 2 === 1) keyboard.row();
  });
  return keyboard.row().text('❓ Ask me every time', encodeCallback({ action: 'default', style: 'ask' }));
}

/** 🎨 Another style · 🙂 Keep faces / ✨ Anime faces (when the result has faces) · 🔍 Upscale · 🗑 Delete. */
export function resultKeyboard(options: { token: string; requesterId: number; canUpscale: boolean; otherFaces?: FaceLook; restyle?: boolean }): InlineKeyboard {
  const keyboard = new InlineKeyboard();
  // An erased photo has no style to change.
  if (options.restyle !== false) keyboard.text('🎨 Another style', encodeCallback({ action: 'again', token: options.token }));
  const look = FACE_LOOKS.find((f) => f.id === options.otherFaces);
  if (look) keyboard.text(`${look.emoji} ${look.label}`, encodeCallback({ action: 'faces', token: options.token }));
  if (options.canUpscale) keyboard.text('🔍 Upscale', encodeCallback({ action: 'upscale', token: options.token }));
  return keyboard.text('🗑 Delete', encodeCallback({ action: 'delete', userId: options.requesterId }));
}

/**
 * Under a sticker: ✨ Animate it · ➕ Add to my pack · 🗑 Delete; under an animated emoji: 🔁 Another
 * effect instead of Animate. Anyone may add it to their own pack.
 */
export function stickerKeyboard(options: { token: string; requesterId: number; animated: boolean }): InlineKeyboard {
  return new InlineKeyboard()
    .text(options.animated ? '🔁 Another effect' : '✨ Animate it', encodeCallback({ action: 'effect', token: options.token }))
    .text('➕ Add to my pack', encodeCallback({ action: 'pack' }))
    .row()
    .text('🗑 Delete', encodeCallback({ action: 'delete', userId: options.requesterId }));
}

/** Under the numbered people preview: one button per person, five a row, and "All" when offered. */
export function personKeyboard(token: string, count: number, offerAll: boolean): InlineKeyboard {
  const keyboard = new InlineKeyboard();
  for (let n = 1; n <= count; n++) {
    keyboard.text(String(n), encodeCallback({ action: 'person', token, pick: n }));
    if (n % 5 === 0 && n < count) keyboard.row();
  }
  if (offerAll) keyboard.row().text('👥 All', encodeCallback({ action: 'person', token, pick: 'all' }));
  return keyboard;
}

export function cancelKeyboard(token: string): InlineKeyboard {
  return new InlineKeyboard().text('✖ Cancel', encodeCallback({ action: 'cancel', token }));
}
