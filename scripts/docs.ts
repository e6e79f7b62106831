/**
 * `npm run docs`: rewrites the generated parts of README.md from their single sources (the style
 * registry, the mode list, the Discord commands), and `.env.example` from the config schema (each
 * setting's JSDoc and default in src/config.ts, grouped by CONFIG_SECTIONS). A test fails when either
 * is out of date.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PermissionFlagsBits } from 'discord.js';
import ts from 'typescript';
import { discordCommands } from '#src/bots/discord/commands/index.ts';
import { CONFIG_KEYS, CONFIG_SECTIONS, configDefaults, REPO_ROOT, type ConfigKey } from '#src/config.ts';
import { DEFAULT_EMOJI_EFFECT, EMOJI_EFFECTS } from '#src/pipeline/emoji-effects.ts';
import { MODES } from '#src/pipeline/modes.ts';
import { stylesMarkdownTable } from '#src/pipeline/styles.ts';

export const README = path.join(REPO_ROOT, 'README.md');

export function modesMarkdownTable(): string {
  return ['| mode | what it does |', '|---|---|', ...MODES.map((m) => `| \`${m.id}\` | ${m.description} |`)].join('\n');
}

/** The Discord commands and their options, from the same definitions that are registered. */
export function discordCommandsMarkdown(): string {
  return discordCommands()
    .map((c) => {
      const command = c.data as any;
      if (c.type === 'message') return `- **${command.name}** (message menu: right-click a message → Apps): ${c.summary}.`;
      const options = (command.options ?? []).map((o: any) => `\`${o.name}\`${o.required ? '' : '?'}`).join(' ');
      const who = command.default_member_permissions === String(PermissionFlagsBits.ManageGuild) ? ' Members with *Manage Server* only.' : '';
      return `- \`/${command.name}\`${options ? ` ${options}` : ''}: ${command.description}.${who}`;
    })
    .join('\n');
}

export function effectsMarkdownTable(): string {
  return ['| effect | what it does |', '|---|---|', ...EMOJI_EFFECTS.map((e) => `| ${e.emoji} \`${e.id}\`${e.id === DEFAULT_EMOJI_EFFECT ? ' (default)' : ''} | ${e.description} |`)].join('\n');
}

export const GENERATED: Record<string, () => string> = {
  styles: stylesMarkdownTable,
  modes: modesMarkdownTable,
  effects: effectsMarkdownTable,
  'discord-commands': discordCommandsMarkdown,
};

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

export const ENV_EXAMPLE = path.join(REPO_ROOT, '.env.example');
export const CONFIG_SOURCE = path.join(REPO_ROOT, 'src', 'config.ts');

/** `.env.example` comment lines are wrapped to this many columns (a longer word stays whole). */
const ENV_WIDTH = 100;

/**
 * Each setting's JSDoc text, read from the `const schema = z.object({ … })` literal in src/config.ts
 * (paragraphs kept, lines within a paragraph joined).
 */
export function configDocs(source = fs.readFileSync(CONFIG_SOURCE, 'utf8')): Map<string, string> {
  const file = ts.createSourceFile(CONFIG_SOURCE, source, ts.ScriptTarget.Latest, true);
  let literal: ts.ObjectLiteralExpression | undefined;
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.name.text === 'schema' && node.initializer && ts.isCallExpression(node.initializer)) {
      const arg = node.initializer.arguments[0];
      if (arg && ts.isObjectLiteralExpression(arg)) literal = arg;
    }
    if (!literal) ts.forEachChild(node, visit);
  };
  visit(file);
  if (!literal) throw new Error('src/config.ts has no `const schema = z.object({ … })`');
  const docs = new Map<string, string>();
  for (const property of literal.properties) {
    if (!ts.isPropertyAssignment(property) || !ts.isIdentifier(property.name)) continue;
    // The raw comment, not ts's parse of it: that would read `@BotFather` as a JSDoc tag.
    const text = ts
      .getJSDocCommentsAndTags(property)
      .filter(ts.isJSDoc)
      .map((doc) =>
        doc
          .getText()
          .replace(/^\/\*\*|\*\/$/g, '')
          .split('\n')
          .map((line) => line.replace(/^\s*\* ?/, ''))
          .join('\n'),
      )
      .join('\n\n');
    const paragraphs = text
      .split(/\n\s*\n/)
      .map((p) => p.replace(/\s+/g, ' ').trim())
      .filter(Boolean);
    if (paragraphs.length) docs.set(property.name.text, paragraphs.join('\n\n'));
  }
  return docs;
}

/**
 * `# `-comment lines of `text`, wrapped at ENV_WIDTH columns (never inside a `code span`); paragraphs
 * are separated by a bare `#`.
 */
function envComment(text: string): string[] {
  const lines: string[] = [];
  text.split('\n\n').forEach((paragraph, i) => {
    if (i > 0) lines.push('#');
    let line = '#';
    for (const word of paragraph.match(/(?:`[^`]*`|`(?![^`]*`)|[^\s`])+/g) ?? []) {
      if (line !== '#' && line.length + 1 + word.length > ENV_WIDTH) {
        lines.push(line);
        line = '#';
      }
      line += ` ${word}`;
    }
    lines.push(line);
  });
  return lines;
}

/** A default as `.env` text: lists comma-separated, everything else as its string. */
function envValue(value: unknown): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return value.map(String).join(',');
  if (value === null || typeof value === 'object') throw new Error(`no .env form for the default ${JSON.stringify(value)}`);
  return String(value);
}

/** Every setting in exactly one section, and no section naming something that is not a setting. */
export function sectionProblems(sections = CONFIG_SECTIONS, keys: readonly string[] = CONFIG_KEYS): string[] {
  const problems: string[] = [];
  const count = new Map<string, number>();
  for (const section of sections) for (const key of section.keys) count.set(key, (count.get(key) ?? 0) + 1);
  for (const key of keys) if (!count.has(key)) problems.push(`${key} is in no CONFIG_SECTIONS entry`);
  for (const [key, n] of count) {
    if (!keys.includes(key)) problems.push(`${key} is in CONFIG_SECTIONS but not in the schema`);
    if (n > 1) problems.push(`${key} is in ${n} CONFIG_SECTIONS entries`);
  }
  return problems;
}

/** `.env.example`, generated: header, then each section with every setting's JSDoc and default. */
export function renderEnvExample(docs = configDocs()): string {
  const problems = sectionProblems();
  for (const key of CONFIG_KEYS) if (!docs.get(key)) problems.push(`${key} has no JSDoc comment in src/config.ts`);
  if (problems.length) throw new Error(`Cannot generate .env.example:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  const defaults = configDefaults();
  const out = [
    '# animefy settings. Copy to .env and edit; every variable is optional (the defaults are shown).',
    '# Empty values count as unset; relative paths are taken from the repository root.',
    '# Generated from src/config.ts by `npm run docs`: edit the comments and defaults there, not here.',
  ];
  for (const section of CONFIG_SECTIONS) {
    const header = `# --- ${section.title} `;
    out.push('', header.padEnd(ENV_WIDTH - 4, '-'));
    if (section.intro) out.push(...envComment(section.intro));
    for (const key of section.keys as readonly ConfigKey[]) {
      out.push(...envComment(docs.get(key)!), `${key}=${envValue(defaults[key])}`);
    }
    for (const other of section.others ?? []) out.push(...envComment(other.doc), `# ${other.name}=${other.example}`);
  }
  return `${out.join('\n')}\n`;
}

/** Writes `file` when `text` differs; says which. */
function update(file: string, text: string): void {
  const name = path.relative(REPO_ROOT, file);
  const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
  if (text !== before) fs.writeFileSync(file, text);
  console.log(text === before ? `${name} is up to date` : `${name} updated`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  update(README, renderReadme(fs.readFileSync(README, 'utf8')));
  update(ENV_EXAMPLE, renderEnvExample());
}
