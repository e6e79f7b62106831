/**
 * `npm run docs`: rewrites the generated parts of README.md from their single sources (the style
 * registry, the mode list, the Discord commands). A test fails when README.md is out of date.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplicationCommandType, PermissionFlagsBits } from 'discord.js';
import { commandDefinitions } from '../src/bots/discord/commands.ts';
import { REPO_ROOT } from '../src/config.ts';
import { MODES } from '../src/pipeline/modes.ts';
import { stylesMarkdownTable } from '../src/pipeline/styles.ts';

export const README = path.join(REPO_ROOT, 'README.md');

export function modesMarkdownTable(): string {
  return ['| mode | what it does |', '|---|---|', ...MODES.map((m) => `| \`${m.id}\` | ${m.description} |`)].join('\n');
}

/** The Discord commands and their options, from the same definitions that are registered. */
export function discordCommandsMarkdown(): string {
  return commandDefinitions()
    .map((command: any) => {
      if (command.type === ApplicationCommandType.Message) return `- **${command.name}** (message menu: right-click a message → Apps): animefies its picture, GIF or video with the server's default style.`;
      const options = (command.options ?? []).map((o: any) => `\`${o.name}\`${o.required ? '' : '?'}`).join(' ');
      const who = command.default_member_permissions === String(PermissionFlagsBits.ManageGuild) ? ' Members with *Manage Server* only.' : '';
      return `- \`/${command.name}\`${options ? ` ${options}` : ''}: ${command.description}.${who}`;
    })
    .join('\n');
}

export const GENERATED: Record<string, () => string> = { styles: stylesMarkdownTable, modes: modesMarkdownTable, 'discord-commands': discordCommandsMarkdown };

/** README text with every `<!-- name:start -->…<!-- name:end -->` block regenerated. */
export function renderReadme(text: string): string {
  let out = text;
  for (const [name, render] of Object.entries(GENERATED)) {
    const pattern = new RegExp(`(<!-- ${name}:start -->\\n)[\\s\\S]*?(\\n<!-- ${name}:end -->)`);
    if (!pattern.test(out)) throw new Error(`README.md has no <!-- ${name}:start --> … <!-- ${name}:end --> block`);
    out = out.replace(pattern, `$1${render()}$2`);
  }
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const before = fs.readFileSync(README, 'utf8');
  const after = renderReadme(before);
  if (after !== before) fs.writeFileSync(README, after);
  console.log(after === before ? 'README.md is up to date' : 'README.md updated');
}
