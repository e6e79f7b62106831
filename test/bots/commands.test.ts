/**
 * Adding a text command is one file: the same InfoCommand reaches Telegram's menu and /help, and
 * Discord's registered commands and its usage text (/about).
 */
import { describe, expect, it } from 'vitest';
import { INFO_COMMANDS } from '#src/bots/commands/index.ts';
import { COMMAND_NAME } from '#src/bots/commands/info-command.ts';
import { commandDefinitions, discordCommands, usageText } from '#src/bots/discord/commands/index.ts';
import { helpText } from '#src/bots/telegram/features/help.ts';
import { telegramCommands, telegramFeatures } from '#src/bots/telegram/features/index.ts';
import { ping } from './ping-command.ts';

const limits = { inputBytes: 25 * 2 ** 20, downloadBytes: 20 * 2 ** 20, maxClipSeconds: 15 };

describe('shared text commands', () => {
  it('every registered command has a valid name and a description that fits both platforms', () => {
    for (const c of INFO_COMMANDS) {
      expect(c.name).toMatch(COMMAND_NAME);
      expect(c.description.length).toBeGreaterThan(0);
      expect(c.description.length).toBeLessThanOrEqual(100);
    }
  });

  it('one more command file shows up in both bots: menus, registered commands and help', () => {
    const info = [...INFO_COMMANDS, ping];
    const telegramMenu = telegramCommands(telegramFeatures(info));
    expect(telegramMenu.map((c) => c.command)).toContain('ping');
    expect(helpText('AnimefyBot', limits, telegramMenu)).toContain('/ping: Check that I am awake');
    expect(commandDefinitions(discordCommands(info)).map((c) => c.name)).toContain('ping');
    expect(usageText(limits, discordCommands(info))).toContain('/ping: Check that I am awake');
    expect(ping.reply({ platform: 'telegram' })).toContain('Pong');

    // Without it, neither bot knows the command.
    expect(telegramCommands().map((c) => c.command)).not.toContain('ping');
    expect(commandDefinitions().map((c) => c.name)).not.toContain('ping');
  });

  it('the built-in text commands are in both help texts', () => {
    for (const c of INFO_COMMANDS) {
      expect(helpText('AnimefyBot', limits, telegramCommands())).toContain(`/${c.name}`);
      expect(usageText(limits)).toContain(`/${c.name}`);
    }
  });
});
