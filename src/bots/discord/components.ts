/**
 * Buttons and the style menu under Discord replies. A component's custom id (at most 100 characters)
 * carries a short reference token (what the job was: a URL and options, kept in memory for a day) or,
 * for Delete and Get my result, the requester's id itself, so they keep working after a restart.
 */
import { ActionRowBuilder, ButtonBuilder, ButtonStyle, StringSelectMenuBuilder } from 'discord.js';
import { FACE_LOOKS, type FaceLook } from '../../pipeline/modes.ts';
import { STYLES } from '../../pipeline/styles.ts';

export type ComponentAction =
  | { kind: 'again'; ref: string }
  | { kind: 'pick'; ref: string }
  | { kind: 'upscale'; ref: string }
  | { kind: 'faces'; ref: string }
  /** Under a sticker or emoji: an animated emoji of the same file with the next effect. */
  | { kind: 'effect'; ref: string }
  /** The numbered people preview's menu: the referenced job, on the person picked. */
  | { kind: 'person'; ref: string }
  | { kind: 'delete'; requesterId: string }
  | { kind: 'cancel'; job: string; requesterId: string }
  | { kind: 'result'; requesterId: string };

const PREFIX = 'af';
/** Discord's limit on a custom id. */
export const MAX_CUSTOM_ID = 100;

export function encodeAction(action: ComponentAction): string {
  let id: string;
  switch (action.kind) {
    case 'again':
    case 'pick':
    case 'upscale':
    case 'faces':
    case 'effect':
    case 'person':
      id = `${PREFIX}:${action.kind}:${action.ref}`;
      break;
    case 'delete':
    case 'result':
      id = `${PREFIX}:${action.kind}:${action.requesterId}`;
      break;
    case 'cancel':
      id = `${PREFIX}:cancel:${action.job}:${action.requesterId}`;
      break;
  }
  if (id.length > MAX_CUSTOM_ID) throw new Error(`custom id too long (${id.length})`);
  return id;
}

/** The action a custom id stands for; undefined for ids this bot did not make. */
export function decodeAction(customId: string): ComponentAction | undefined {
  const [prefix, kind, a, b] = customId.split(':');
  if (prefix !== PREFIX || !a) return undefined;
  switch (kind) {
    case 'again':
    case 'pick':
    case 'upscale':
    case 'faces':
    case 'effect':
    case 'person':
      return { kind, ref: a };
    case 'delete':
    case 'result':
      return /^\d+$/.test(a) ? { kind, requesterId: a } : undefined;
    case 'cancel':
      return b && /^\d+$/.test(b) ? { kind, job: a, requesterId: b } : undefined;
    default:
      return undefined;
  }
}

/**
 * 🎨 Another style · 🙂 Keep faces (or ✨ Anime faces, to switch back; when the result has faces) ·
 * 🔍 Upscale ×2 (pictures that can grow) · 🗑 Delete (the requester only).
 */
export function resultButtons(options: {
  ref: string;
  requesterId: string;
  canUpscale: boolean;
  /** The other face look to offer, if the result has faces. */
  otherFaces?: FaceLook;
  /** False for an erased photo: it has no style to change. */
  restyle?: boolean;
}): ActionRowBuilder<ButtonBuilder> {
  const row = new ActionRowBuilder<ButtonBuilder>();
  if (options.restyle !== false) {
    row.addComponents(
      new ButtonBuilder().setCustomId(encodeAction({ kind: 'again', ref: options.ref })).setLabel('Another style').setEmoji('🎨').setStyle(ButtonStyle.Primary),
    );
  }
  if (options.otherFaces) {
    const look = FACE_LOOKS.find((f) => f.id === options.otherFaces)!;
    row.addComponents(
      new ButtonBuilder()
        .setCustomId(encodeAction({ kind: 'faces', ref: options.ref }))
        .setLabel(look.label)
        .setEmoji(look.emoji)
        .setStyle(ButtonStyle.Secondary),
    );
  }
  if (options.canUpscale) {
    row.addComponents(
      new ButtonBuilder().setCustomId(encodeAction({ kind: 'upscale', ref: options.ref })).setLabel('Upscale ×2').setEmoji('🔍').setStyle(ButtonStyle.Secondary),
    );
  }
  row.addComponents(
    new ButtonBuilder().setCustomId(encodeAction({ kind: 'delete', requesterId: options.requesterId })).setLabel('Delete').setEmoji('🗑').setStyle(ButtonStyle.Danger),
  );
  return row;
}

/** Under a sticker: ✨ Animate it; under an emoji: 🔁 Another effect. Then 🗑 Delete (the requester only). */
export function stickerButtons(options: { ref: string; requesterId: string; animated: boolean }): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder()
      .setCustomId(encodeAction({ kind: 'effect', ref: options.ref }))
      .setLabel(options.animated ? 'Another effect' : 'Animate it')
      .setEmoji(options.animated ? '🔁' : '✨')
      .setStyle(ButtonStyle.Primary),
    new ButtonBuilder().setCustomId(encodeAction({ kind: 'delete', requesterId: options.requesterId })).setLabel('Delete').setEmoji('🗑').setStyle(ButtonStyle.Danger),
  );
}

/** 📥 Get my result: hands over what waits for the requester (a late result the bot could neither post nor DM). */
export function getResultButton(requesterId: string): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(encodeAction({ kind: 'result', requesterId })).setLabel('Get my result').setEmoji('📥').setStyle(ButtonStyle.Secondary),
  );
}

export function cancelButton(job: string, requesterId: string): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(encodeAction({ kind: 'cancel', job, requesterId })).setLabel('Cancel').setEmoji('✖').setStyle(ButtonStyle.Secondary),
  );
}

/** A menu of every style from the registry (the current one marked). */
export function styleMenu(ref: string, current?: string): ActionRowBuilder<StringSelectMenuBuilder> {
  const menu = new StringSelectMenuBuilder()
    .setCustomId(encodeAction({ kind: 'pick', ref }))
    .setPlaceholder('Pick a style')
    .addOptions(
      STYLES.map((style) => ({
        label: style.id === current ? `${style.label} (this one)` : style.label,
        value: style.id,
        description: style.description.slice(0, 100),
        emoji: style.emoji,
      })),
    );
  return new ActionRowBuilder<StringSelectMenuBuilder>().addComponents(menu);
}

/** Discord's most options in one select menu. */
const MAX_MENU_OPTIONS = 25;

/** Under the numbered people preview: one option per person (left to right), and "Everyone" when offered. */
export function personMenu(ref: string, count: number, offerAll: boolean): ActionRowBuilder<StringSelectMenuBuilder> {
  const people = Array.from({ length: Math.min(count, MAX_MENU_OPTIONS - (offerAll ? 1 : 0)) }, (_, i) => ({
    label: `Person ${i + 1}`,
    value: String(i + 1),
    emoji: '👤',
  }));
  const menu = new StringSelectMenuBuilder()
    .setCustomId(encodeAction({ kind: 'person', ref }))
    .setPlaceholder('Pick a person')
    .addOptions(offerAll ? [...people, { label: 'Everyone', value: 'all', emoji: '👥' }] : people);
  return new ActionRowBuilder<StringSelectMenuBuilder>().addComponents(menu);
}
