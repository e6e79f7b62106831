import fs from 'node:fs';
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
});
