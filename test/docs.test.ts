import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { README, renderReadme } from '../scripts/docs.ts';

describe('README', () => {
  it('shows the style and mode tables exactly as the registry generates them (run `npm run docs`)', () => {
    const text = fs.readFileSync(README, 'utf8');
    expect(renderReadme(text)).toBe(text);
  });

  it('names the two fresh-machine commands', () => {
    const text = fs.readFileSync(README, 'utf8');
    expect(text).toContain('npm run demo');
    expect(text).toContain('npm test');
  });

  it('"Where to change what" names paths that exist', () => {
    const text = fs.readFileSync(README, 'utf8');
    const section = text.slice(text.indexOf('<!-- where-to-change:start -->'), text.indexOf('<!-- where-to-change:end -->'));
    const paths = [...section.matchAll(/`([\w.-]+(?:\/[\w.-]+)+\/?|[\w-]+\.json)`/g)].map((m) => m[1]);
    expect(paths.length).toBeGreaterThan(10);
    for (const p of paths) expect(fs.existsSync(path.join(path.dirname(README), p)), p).toBe(true);
  });
});
