/** /styles: every style of the registry, with how to use one on this platform. */
import { stylesText } from '../about-text.ts';
import type { InfoCommand } from './info-command.ts';

export const styles: InfoCommand = {
  name: 'styles',
  description: 'List the styles',
  reply: ({ platform }) =>
    `${stylesText()}\n\n${
      platform === 'telegram'
        ? 'Use one in a caption ("/animefy shinkai") or make it this chat\'s default with /style.'
        : "Use one with `/animefy style:`, or right-click a message → Apps → Animefy to use this server's default (`/style` sets it)."
    }`,
};
