import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { getConfig } from '#src/config.ts';
import { loadManifest } from '#src/models/manifest.ts';
import { DEFAULT_STYLE, STYLES, findStyle, getStyle, isFilterStyle, resolveStyle, styleModels, stylesMarkdownTable } from '#src/pipeline/styles.ts';

const config = getConfig();
const manifest = loadManifest(config.ANIMEFY_MODELS_DIR);

describe('style registry', () => {
  it('has every style the product promises, with unique ids and a default', () => {
    const ids = STYLES.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ['hayao', 'shinkai', 'cartoon', 'sketch', 'genshin', 'shinchan', 'borderlands', 'nostalgic', 'papercut', 'comic']) expect(ids).toContain(id);
    expect(DEFAULT_STYLE).toBe('hayao');
    expect(findStyle(DEFAULT_STYLE)).toBeDefined();
  });

  it('gives every style a label, emoji, one-line description and licence note', () => {
    for (const s of STYLES) {
      expect(s.label.length).toBeGreaterThan(0);
      expect(s.emoji.length).toBeGreaterThan(0);
      expect(s.description).not.toMatch(/\n/);
      expect(s.description.length).toBeLessThan(120);
      expect(s.licence).toMatch(isFilterStyle(s) ? /no model weights/i : /commercial|CC BY/i);
      // Telegram callback data is ≤ 64 bytes: ids stay short.
      expect(Buffer.byteLength(`style:${s.id}`)).toBeLessThan(64);
    }
  });

  it('names only models that are in the manifest and installed, with generator I/O', () => {
    for (const s of STYLES) {
      for (const id of styleModels(s)) {
        expect(manifest.has(id), `${s.id} needs ${id}`).toBe(true);
        const entry = manifest.resolveAvailable(id, config.ANIMEFY_MODELS_DIR);
        expect(entry.kind).toBe('generator');
        expect(fs.existsSync(path.join(config.ANIMEFY_MODELS_DIR, entry.file)), `${entry.file} installed`).toBe(true);
      }
    }
  });

  it('has built-in filters that need no model and are no approximation', () => {
    const filters = STYLES.filter(isFilterStyle).map((s) => s.id);
    expect(filters).toEqual(['nostalgic', 'papercut', 'comic']);
    const looks = { nostalgic: 'film', papercut: 'papercut', comic: 'comic' } as const;
    for (const id of filters) {
      const s = getStyle(id);
      expect(s.faceModel).toBeNull();
      expect(styleModels(s)).toEqual([]);
      expect(s.approximation).toBe(false);
      expect(s.grade?.[looks[id as keyof typeof looks]], id).toBeDefined();
      expect(stylesMarkdownTable()).toContain(`| ${s.emoji} \`${id}\` | ${s.description} | none: built-in filter | ${s.licence} |`);
    }
    // Styles with models name them in the table.
    expect(stylesMarkdownTable()).toContain('| hayao + jp_face (faces) + grade |');
  });

  it('marks the recipes that stand in for unavailable models as approximations', () => {
    for (const id of ['genshin', 'shinchan', 'borderlands']) {
      const s = getStyle(id);
      expect(s.approximation).toBe(true);
      expect(s.description).toMatch(/approximation/i);
      expect(s.grade).toBeDefined();
    }
    for (const id of ['hayao', 'shinkai', 'cartoon', 'sketch']) expect(getStyle(id).approximation).toBe(false);
  });

  it('looks styles up forgivingly and rejects unknown ones with the list', () => {
    expect(findStyle('Shin-chan')?.id).toBe('shinchan');
    expect(findStyle(' SHINKAI ')?.id).toBe('shinkai');
    expect(() => getStyle('vaporwave')).toThrow(/vaporwave.*hayao, shinkai/);
  });

  it('prefers a dropped-in trained generator over a recipe', () => {
    const recipe = resolveStyle('genshin', () => false);
    expect(recipe.trained).toBe(false);
    expect(recipe.sceneModel).toBe('shinkai');
    const trained = resolveStyle('genshin', (id) => id === 'genshin');
    expect(trained.trained).toBe(true);
    expect([trained.sceneModel, trained.faceModel]).toEqual(['genshin', 'genshin']);
    expect(trained.grade).toBeUndefined();
    expect(trained.description).not.toMatch(/approximation/);
    // Styles with real models never switch.
    expect(resolveStyle('hayao', () => true).trained).toBe(false);
  });
});
