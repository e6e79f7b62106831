/**
 * The Telegram bot's features, in command-menu order. A new feature is a file here and a line below.
 * Each passes on what is not its own, and /help goes last: it answers the commands nobody took.
 */
import { INFO_COMMANDS } from '../../commands/index.ts';
import type { InfoCommand } from '../../commands/info-command.ts';
import { animefy } from './animefy.ts';
import { erase } from './erase.ts';
import { faceFun } from './face-fun.ts';
import { sticker } from './sticker.ts';
import type { MenuEntry, TelegramFeature } from './feature.ts';
import { help } from './help.ts';
import { infoFeature } from './info.ts';
import { style } from './style.ts';

export function telegramFeatures(info: readonly InfoCommand[] = INFO_COMMANDS): TelegramFeature[] {
  return [animefy, erase, sticker, faceFun, infoFeature(info), style, help];
}

/** The command menu (setMyCommands), from the features. */
export function telegramCommands(features: readonly TelegramFeature[] = telegramFeatures()): MenuEntry[] {
  return features.flatMap((f) => f.menu);
}
