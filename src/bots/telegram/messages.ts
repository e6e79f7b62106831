/**
 * What the Telegram bot says (plain text). Errors come from the one table in src/errors.ts; this file
 * holds the Telegram-specific help.
 */
import { modesText } from '../about-text.ts';
import { INFO_COMMANDS } from '../commands/index.ts';
import { commandLines, type InfoCommand } from '../commands/info-command.ts';
import { getStyle } from '../../pipeline/styles.ts';
import { formatBytes } from '../../errors.ts';

/** The command menu (setMyCommands): /animefy, the shared text commands, /style and /help. */
export function telegramCommands(info: readonly InfoCommand[] = INFO_COMMANDS): { command: string; description: string }[] {
  return [
    { command: 'animefy', description: 'Animefy a photo, GIF or video (in the caption, or as a reply)' },
    ...info.map((c) => ({ command: c.name, description: c.description })),
    { command: 'style', description: "Set this chat's default style" },
    { command: 'help', description: 'How to use me' },
  ];
}

export function helpText(
  botUsername: string,
  limits: { downloadBytes: number; maxClipSeconds: number },
  info: readonly InfoCommand[] = INFO_COMMANDS,
): string {
  return [
    '👋 Send me a photo, a GIF, a short video, a video message or a sticker and I will turn it into anime.',
    '',
    'Pick a style from the buttons, or write it in the caption: "shinkai", or "/animefy shinkai person".',
    'Add "keep" to keep everyone\'s likeness instead of anime faces, or tap 🙂 Keep faces under a result.',
    `In groups, add /animefy@${botUsername} to the caption, reply to someone's picture with /animefy, or mention @${botUsername}.`,
    '',
    '/style sets this chat’s default style.',
    ...commandLines(info),
    `Limits: files up to ${formatBytes(limits.downloadBytes)}; GIFs and videos up to ${limits.maxClipSeconds} s.`,
    '',
    modesText(),
  ].join('\n');
}

export { resultCaption } from '../result-caption.ts';

export const NO_MEDIA_TEXT = 'Send me a photo, a GIF or a short video (or reply to one with /animefy) and I will animefy it. /help has the details.';

export function pickStyleText(unknown?: string): string {
  return unknown ? `I don't know the style "${unknown}". Pick one:` : '🎨 Which style?';
}

export function defaultStyleSet(style: string | undefined): string {
  if (!style) return 'OK: I will ask for a style every time.';
  const s = getStyle(style);
  return `${s.emoji} ${s.label} is now this chat's default style. /style changes it.`;
}
