/**
 * `npm run docs`: rewrites the generated parts of README.md from their single sources (the style
 * registry, the mode list). A test fails when README.md is out of date.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from '../src/config.ts';
import { MODES } from '../src/pipeline/modes.ts';
import { stylesMarkdownTable } from '../src/styles.ts';

export const README = path.join(REPO_ROOT, 'README.md');

export function modesMarkdownTable(): string {
  return ['| mode | what it does |', '|---|---|', ...MODES.map((m) => `| \`${m.id}\` | ${m.description} |`)].join('\n');
}

export const GENERATED: Record<string, () => string> = { styles: stylesMarkdownTable, modes: modesMarkdownTable };

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
