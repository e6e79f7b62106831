/**
 * /about (Telegram also /privacy): what the bot does, privacy, and the model licences; on Discord,
 * which has no /help, how to use the bot first.
 */
import { aboutText } from '../about-text.ts';
import type { InfoCommand } from './info-command.ts';

export const about: InfoCommand = {
  name: 'about',
  description: 'What I do, privacy and model licences',
  aliases: ['privacy'],
  reply: ({ usage }) => (usage ? `${usage}\n\n${aboutText()}` : aboutText()),
};
