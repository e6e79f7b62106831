import type { MessageEntity } from 'grammy/types';
import { describe, expect, it } from 'vitest';
import { mentionsBot, parseCommand, parseJobWords } from '#src/bots/telegram/parse.ts';
import { STYLES } from '#src/pipeline/styles.ts';

const BOT = 'animefy_test_bot';
const ME = { id: 777, username: BOT };
const user = (id: number) => ({ id, is_bot: false, first_name: `u${id}` });

describe('parseCommand', () => {
  it('reads a bare command', () => {
    expect(parseCommand('/animefy', BOT)).toEqual({ name: 'animefy', args: '', forOtherBot: false });
    expect(parseCommand('/start', BOT)).toEqual({ name: 'start', args: '', forOtherBot: false });
  });

  it('accepts this bot’s name in any case, and lower-cases the command name', () => {
    expect(parseCommand('/animefy@animefy_test_bot shinkai', BOT)).toEqual({ name: 'animefy', args: 'shinkai', forOtherBot: false });
    expect(parseCommand('/Animefy@Animefy_Test_Bot shinkai', BOT)).toEqual({ name: 'animefy', args: 'shinkai', forOtherBot: false });
    expect(parseCommand('/animefy@ANIMEFY_TEST_BOT', 'Animefy_Test_Bot')?.forOtherBot).toBe(false);
  });

  it('flags a command addressed to another bot', () => {
    expect(parseCommand('/animefy@other_bot', BOT)).toEqual({ name: 'animefy', args: '', forOtherBot: true });
    expect(parseCommand('/animefy@other_bot hayao', BOT)?.forOtherBot).toBe(true);
  });

  it('ignores leading whitespace and trims the arguments', () => {
    expect(parseCommand('   /animefy   hayao  person  ', BOT)).toEqual({ name: 'animefy', args: 'hayao  person', forOtherBot: false });
    expect(parseCommand('\n/animefy hayao', BOT)?.args).toBe('hayao');
  });

  it('treats /animefyx as a different command', () => {
    expect(parseCommand('/animefyx', BOT)?.name).toBe('animefyx');
    expect(parseCommand('/animefyx shinkai', BOT)?.name).not.toBe('animefy');
  });

  it('is undefined when the text does not start with a command', () => {
    expect(parseCommand(undefined, BOT)).toBeUndefined();
    expect(parseCommand('', BOT)).toBeUndefined();
    expect(parseCommand('shinkai please', BOT)).toBeUndefined();
    expect(parseCommand('please /animefy', BOT)).toBeUndefined();
    expect(parseCommand('/', BOT)).toBeUndefined();
    expect(parseCommand('/animefy-now', BOT)).toBeUndefined();
    expect(parseCommand('https://example.com/animefy', BOT)).toBeUndefined();
  });

  it('keeps multi-line arguments', () => {
    expect(parseCommand('/animefy shinkai\nperson\nx2', BOT)).toEqual({ name: 'animefy', args: 'shinkai\nperson\nx2', forOtherBot: false });
    expect(parseCommand('/animefy\nhayao', BOT)?.args).toBe('hayao');
  });
});

describe('mentionsBot', () => {
  it('finds an @mention of the bot, in any case', () => {
    const text = `hey @${BOT} do this`;
    const entities: MessageEntity[] = [{ type: 'mention', offset: 4, length: BOT.length + 1 }];
    expect(mentionsBot(text, entities, ME)).toBe(true);
    const upper = `hey @ANIMEFY_TEST_BOT do this`;
    expect(mentionsBot(upper, entities, ME)).toBe(true);
  });

  it('finds a mention after emoji (UTF-16 offsets)', () => {
    const text = `🎨🎨 @${BOT}`;
    const entities: MessageEntity[] = [{ type: 'mention', offset: 5, length: BOT.length + 1 }];
    expect(mentionsBot(text, entities, ME)).toBe(true);
  });

  it('finds a text mention of the bot’s id', () => {
    const entities: MessageEntity[] = [{ type: 'text_mention', offset: 0, length: 7, user: user(777) }];
    expect(mentionsBot('Animefy, please', entities, ME)).toBe(true);
  });

  it('ignores mentions of others, other entities, and missing text or entities', () => {
    const text = '@someone_else and @another one /animefy';
    const entities: MessageEntity[] = [
      { type: 'mention', offset: 0, length: 13 },
      { type: 'mention', offset: 18, length: 8 },
      { type: 'bot_command', offset: 31, length: 8 },
    ];
    expect(mentionsBot(text, entities, ME)).toBe(false);
    expect(mentionsBot('Bob hi', [{ type: 'text_mention', offset: 0, length: 3, user: user(5) }], ME)).toBe(false);
    // The name in the text but no mention entity (e.g. inside a code span): not a mention.
    expect(mentionsBot(`@${BOT}`, [{ type: 'code', offset: 0, length: BOT.length + 1 }], ME)).toBe(false);
    expect(mentionsBot(`@${BOT}`, undefined, ME)).toBe(false);
    expect(mentionsBot(undefined, [{ type: 'mention', offset: 0, length: 5 }], ME)).toBe(false);
  });

  it('does not match a longer username that starts with the bot’s', () => {
    const text = `@${BOT}2`;
    expect(mentionsBot(text, [{ type: 'mention', offset: 0, length: text.length }], ME)).toBe(false);
  });
});

describe('parseJobWords', () => {
  it('reads a style by id or label, in any case', () => {
    expect(parseJobWords('shinkai').style).toBe('shinkai');
    expect(parseJobWords('SHINKAI').style).toBe('shinkai');
    expect(parseJobWords('Shin-chan').style).toBe('shinchan');
    expect(parseJobWords('shinchan').style).toBe('shinchan');
    expect(parseJobWords('shin_chan').style).toBe('shinchan'); // as Discord and the CLI read it
    for (const style of STYLES) {
      expect(parseJobWords(style.id).style).toBe(style.id);
      expect(parseJobWords(style.label.toUpperCase()).style).toBe(style.id);
    }
  });

  it('reads "keep" (faces keep their likeness) and "anime"', () => {
    expect(parseJobWords('shinkai keep')).toEqual({ style: 'shinkai', faces: 'keep', unknown: [] });
    expect(parseJobWords('keepfaces x2').faces).toBe('keep');
    expect(parseJobWords('anime').faces).toBe('anime');
    expect(parseJobWords('hayao').faces).toBeUndefined();
  });

  it('reads a mode and an upscale', () => {
    expect(parseJobWords('hayao person x2')).toEqual({ style: 'hayao', mode: 'person', upscale: 2, unknown: [] });
    expect(parseJobWords('Background').mode).toBe('background');
    expect(parseJobWords('face').mode).toBe('face');
    expect(parseJobWords('full').mode).toBe('full');
  });

  it('understands the upscale words', () => {
    for (const word of ['x2', '2x', 'X2', 'upscale', 'hd', '×2']) expect(parseJobWords(word).upscale).toBe(2);
    for (const word of ['x4', '4X', '×4']) expect(parseJobWords(word).upscale).toBe(4);
    expect(parseJobWords('x3').upscale).toBeUndefined();
    expect(parseJobWords('x3').unknown).toEqual(['x3']);
  });

  it('accepts style: and mode: prefixes', () => {
    expect(parseJobWords('style:shinkai mode=person')).toEqual({ style: 'shinkai', mode: 'person', unknown: [] });
    expect(parseJobWords('Style:Hayao').style).toBe('hayao');
  });

  it('skips the bot’s own @mention, but not other mentions', () => {
    expect(parseJobWords(`@${BOT} shinkai`, BOT)).toEqual({ style: 'shinkai', unknown: [] });
    expect(parseJobWords(`@ANIMEFY_TEST_BOT`, BOT)).toEqual({ unknown: [] });
    expect(parseJobWords('@other_bot shinkai', BOT).unknown).toEqual(['@other_bot']);
    expect(parseJobWords(`@${BOT}`).unknown).toEqual([`@${BOT}`]); // no username given: just a word
  });

  it('collects unknown words as typed', () => {
    expect(parseJobWords('Make me PRETTY shinkai')).toEqual({ style: 'shinkai', unknown: ['Make', 'me', 'PRETTY'] });
    expect(parseJobWords('ghibli').unknown).toEqual(['ghibli']);
    expect(parseJobWords('ghibli').style).toBeUndefined();
  });

  it('splits on whitespace and commas, and ignores empty input', () => {
    expect(parseJobWords('shinkai,person , x4\n\tfoo')).toEqual({ style: 'shinkai', mode: 'person', upscale: 4, unknown: ['foo'] });
    expect(parseJobWords('')).toEqual({ unknown: [] });
    expect(parseJobWords('   ,, ')).toEqual({ unknown: [] });
  });

  it('only the first style, mode and upscale count; later ones are unknown', () => {
    expect(parseJobWords('hayao shinkai')).toEqual({ style: 'hayao', unknown: ['shinkai'] });
    expect(parseJobWords('person face x2 x4')).toEqual({ mode: 'person', upscale: 2, unknown: ['face', 'x4'] });
  });
});
