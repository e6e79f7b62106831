import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_SOURCE, configDocs, ENV_EXAMPLE, README, renderEnvExample, renderReadme, sectionProblems } from '../scripts/docs.ts';
import { CONFIG_KEYS, CONFIG_SECTIONS } from '#src/config.ts';

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

describe('.env.example', () => {
  it('is exactly what the config schema generates (run `npm run docs`)', () => {
    expect(fs.readFileSync(ENV_EXAMPLE, 'utf8')).toBe(renderEnvExample());
  });

  it("takes each setting's comment from its JSDoc in src/config.ts, whole", () => {
    const docs = configDocs();
    expect([...docs.keys()].sort()).toEqual([...CONFIG_KEYS].sort());
    expect(docs.get('TELEGRAM_BOT_TOKEN')).toContain('@BotFather');
    expect(docs.get('ANIMEFY_CPU_MEM_ARENA')).not.toMatch(/\n|\*/);
    const text = renderEnvExample();
    for (const line of text.split('\n')) if (line.startsWith('#')) expect(line.length, line).toBeLessThanOrEqual(100);
    for (const section of CONFIG_SECTIONS) expect(text).toContain(`# --- ${section.title} ---`);
  });

  it('refuses a setting without JSDoc, and a setting in no section', () => {
    const source = fs.readFileSync(CONFIG_SOURCE, 'utf8');
    const undocumented = source.replace(/\/\*\*(?:(?!\*\/)[^])*\*\/\n(\s*LOG_LEVEL:)/, '$1');
    expect(undocumented).not.toBe(source);
    expect(() => renderEnvExample(configDocs(undocumented))).toThrow(/LOG_LEVEL has no JSDoc/);
    expect(sectionProblems()).toEqual([]);
    const withoutLogging = CONFIG_SECTIONS.filter((section) => !section.keys.includes('LOG_LEVEL'));
    expect(sectionProblems(withoutLogging)).toEqual(['LOG_LEVEL is in no CONFIG_SECTIONS entry']);
    expect(sectionProblems([...CONFIG_SECTIONS, { title: 'Again', keys: ['LOG_LEVEL'] }])).toEqual(['LOG_LEVEL is in 2 CONFIG_SECTIONS entries']);
  });
});
