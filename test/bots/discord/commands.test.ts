import { describe, expect, it } from 'vitest';
import { ApplicationCommandOptionType, ApplicationCommandType } from 'discord.js';
import { commandDefinitions } from '#src/bots/discord/commands/index.ts';
import { decodeAction, encodeAction, MAX_CUSTOM_ID, resultButtons, styleMenu } from '#src/bots/discord/components.ts';
import { EMOJI_EFFECT_IDS } from '#src/pipeline/emoji-effects.ts';
import { MODE_IDS } from '#src/pipeline/modes.ts';
import { STYLE_IDS } from '#src/pipeline/styles.ts';

describe('Discord commands', () => {
  const commands = commandDefinitions();
  const byName = (name: string) => commands.find((c) => c.name === name) as any;

  it('defines its slash commands and the Animefy and Landmarks message menus within Discord limits', () => {
    expect(commands.map((c) => c.name).sort()).toEqual(['Animefy', 'Landmarks', 'about', 'animefy', 'emoji', 'erase', 'landmarks', 'result', 'smile', 'sticker', 'style', 'styles']);
    for (const command of commands as any[]) {
      if ((command.type ?? ApplicationCommandType.ChatInput) === ApplicationCommandType.ChatInput) {
        expect(command.name).toMatch(/^[-_a-z0-9]{1,32}$/);
        expect(command.description.length).toBeLessThanOrEqual(100);
      }
      for (const option of command.options ?? []) {
        expect(option.description.length).toBeLessThanOrEqual(100);
        expect((option.choices ?? []).length).toBeLessThanOrEqual(25);
        for (const choice of option.choices ?? []) expect(choice.name.length).toBeLessThanOrEqual(100);
      }
    }
    expect(byName('Animefy').type).toBe(ApplicationCommandType.Message);
    expect(byName('Landmarks').type).toBe(ApplicationCommandType.Message);
    expect(byName('emoji').options.find((o: any) => o.name === 'effect').choices.map((c: any) => c.value)).toEqual(EMOJI_EFFECT_IDS);
  });

  it('takes its style and mode choices from the registries', () => {
    const options = byName('animefy').options as any[];
    const image = options.find((o) => o.name === 'image');
    expect(image).toMatchObject({ type: ApplicationCommandOptionType.Attachment, required: true });
    expect(options.find((o) => o.name === 'style').choices.map((c: any) => c.value)).toEqual(STYLE_IDS);
    expect(options.find((o) => o.name === 'mode').choices.map((c: any) => c.value)).toEqual(MODE_IDS);
    expect(options.find((o) => o.name === 'upscale').type).toBe(ApplicationCommandOptionType.Boolean);
    expect(options.find((o) => o.name === 'private').type).toBe(ApplicationCommandOptionType.Boolean);
    // Only members who can manage the server see /style by default.
    expect(byName('style').default_member_permissions).toBe('32');
  });
});

describe('Discord components', () => {
  it('round-trips every action within the 100-character custom id limit', () => {
    const actions = [
      { kind: 'again', ref: 'abcdefghij' },
      { kind: 'pick', ref: 'abcdefghij' },
      { kind: 'upscale', ref: 'abcdefghij' },
      { kind: 'delete', requesterId: '123456789012345678' },
      { kind: 'cancel', job: 'AbCdEfGh', requesterId: '123456789012345678' },
      { kind: 'result', requesterId: '123456789012345678' },
    ] as const;
    for (const action of actions) {
      const id = encodeAction(action);
      expect(id.length).toBeLessThanOrEqual(MAX_CUSTOM_ID);
      expect(decodeAction(id)).toEqual(action);
    }
    expect(decodeAction('other-bot:thing')).toBeUndefined();
    expect(decodeAction('af:delete:not-an-id')).toBeUndefined();
  });

  it('offers Upscale only when asked to, and a menu of every style', () => {
    const labels = (up: boolean) => (resultButtons({ ref: 'r', requesterId: '1', canUpscale: up }).toJSON().components as any[]).map((c) => c.label);
    expect(labels(true)).toEqual(['Another style', 'Upscale ×2', 'Delete']);
    expect(labels(false)).toEqual(['Another style', 'Delete']);
    const menu = styleMenu('r', 'shinkai').toJSON().components[0] as any;
    expect(menu.options.map((o: any) => o.value)).toEqual(STYLE_IDS);
    expect(menu.options.find((o: any) => o.value === 'shinkai').label).toContain('this one');
  });
});
