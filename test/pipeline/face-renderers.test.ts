/**
 * Faces that hold up: on group photos with many small faces, faces in shadow, glasses in warm light
 * and the GIF fixture, no face comes out as a blank mask (inner-face luma spread ≥ 0.4 of the input's,
 * brightness change within 30 levels of the picture's), large clear faces still get the face model,
 * and the face keeps the tone of the neck below it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { eyeContrast } from '#src/pipeline/face-judge.ts';
import { matchFaceTone, skinTone } from '#src/pipeline/face-tone.ts';
import type { Image } from '#src/pipeline/image.ts';
import { MediaPipeline, mediaSettingsFromConfig } from '#src/pipeline/media/media-pipeline.ts';
import type { AnimefyRequest } from '#src/pipeline/types.ts';
import { checkFaces, decodeRgb, DERIVED_GROUPS, FACE_GROUPS, faceToNeckDeltaE } from '../helpers/face-metrics.ts';
import { config, fixture, sharedAnimefier } from '../helpers/fixtures.ts';

const animefier = sharedAnimefier();
const base: AnimefyRequest = { style: 'hayao', mode: 'full', upscale: 1, quality: 'fast', format: 'png' };
const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'animefy-faces-test-'));

afterAll(async () => {
  await animefier.dispose();
  fs.rmSync(tempDir, { recursive: true, force: true });
});

describe('no face comes out as a blank mask', () => {
  it.each(FACE_GROUPS)('$name', async ({ input, minFaces }) => {
    const bytes = await input();
    const result = await animefier.animefy(bytes, base);
    expect(result.faces).toBeGreaterThanOrEqual(minFaces);
    expect(result.faceBoxes).toHaveLength(result.faces);
    const checks = checkFaces(await decodeRgb(bytes), await decodeRgb(result.data), result.faceBoxes);
    for (const c of checks) {
      expect.soft(c.spread, `spread of the face at ${c.box.x},${c.box.y} (${c.box.renderer})`).toBeGreaterThanOrEqual(0.4);
      expect.soft(Math.abs(c.brightness), `brightness of the face at ${c.box.x},${c.box.y} (${c.box.renderer})`).toBeLessThanOrEqual(30);
    }
  });

  it('faces under the face model size skip it: every face of the crowd is drawn by the scene model', async () => {
    const result = await animefier.animefy(await DERIVED_GROUPS.crowd(), { ...base, format: 'jpeg' });
    expect(result.faceBoxes.length).toBeGreaterThanOrEqual(26);
    expect(result.faceBoxes.every((f) => f.renderer === 'scene')).toBe(true);
    expect(result.stylizedFaces).toBe(0);
  });

  it('the GIF: the face track is drawn one way on every frame, and no frame shows a blank face', async () => {
    const media = new MediaPipeline(animefier, { ...mediaSettingsFromConfig(config), tempDir });
    const input = fixture('face_clip.gif');
    const result = await media.animefy(input, { style: 'hayao', mode: 'full', quality: 'fast' });
    expect(result.faceBoxes.length).toBeGreaterThanOrEqual(1);
    // One renderer per track; the face model runs at most once for a track it did not draw well.
    if (result.faceBoxes.every((f) => f.renderer === 'scene')) expect(result.media.faceRuns).toBeLessThanOrEqual(result.faceBoxes.length);
    for (const page of [0, 15, 29]) {
      const before = await decodeRgb(await sharp(input, { page }).png().toBuffer());
      const after = await decodeRgb(await sharp(result.data, { page }).png().toBuffer());
      // The main track (the man in glasses): the largest box.
      const main = [...result.faceBoxes].sort((a, b) => b.w * b.h - a.w * a.h)[0];
      const [check] = checkFaces(before, after, [main]);
      expect.soft(check.spread, `frame ${page} spread`).toBeGreaterThanOrEqual(0.4);
      expect.soft(Math.abs(check.brightness), `frame ${page} brightness`).toBeLessThanOrEqual(30);
    }
  });
});

describe('large clear faces keep the face model', () => {
  // portrait_3quarter_1 (a 200 px face in near profile) is left out: JP_face draws it as a blank oval,
  // and the judge rightly gives it to the scene model.
  it.each(['portrait_glasses_1.jpg', 'portrait_facepaint_1.jpg', 'portrait_frontal_2.jpg'])('%s', async (name) => {
    const result = await animefier.animefy(fixture(name), base);
    const large = result.faceBoxes.filter((f) => Math.max(f.w, f.h) >= 120);
    expect(large.length).toBeGreaterThanOrEqual(1);
    for (const face of large) expect(face.renderer).toBe('face-model');
  });

  it('--faces keep draws every face with the scene model and keeps its detail', async () => {
    const bytes = fixture('group_6faces.jpg');
    const result = await animefier.animefy(bytes, { ...base, faces: 'keep' });
    expect(result.faceBoxes.length).toBeGreaterThanOrEqual(5);
    expect(result.faceBoxes.every((f) => f.renderer === 'scene')).toBe(true);
    expect(result.stylizedFaces).toBe(0);
    for (const c of checkFaces(await decodeRgb(bytes), await decodeRgb(result.data), result.faceBoxes)) {
      expect.soft(c.spread).toBeGreaterThanOrEqual(0.6);
    }
  });
});

describe('skin tone', () => {
  it.each(['portrait_frontal_1.jpg', 'portrait_frontal_2.jpg', 'portrait_facepaint_1.jpg', 'fullbody_grass_dog.jpg'])(
    '%s: the face-to-neck colour difference grows by at most 10 ΔE',
    async (name) => {
      const bytes = fixture(name);
      const result = await animefier.animefy(bytes, base);
      const face = [...result.faceBoxes].sort((a, b) => b.w * b.h - a.w * a.h)[0];
      const before = faceToNeckDeltaE(await decodeRgb(bytes), face);
      const after = faceToNeckDeltaE(await decodeRgb(result.data), face);
      expect(after - before).toBeLessThanOrEqual(10);
    },
  );

  it('a pale face model face on dark skin takes the dark tone and keeps its dark eyes', () => {
    const size = 96;
    const pale = crop(size, (x, y) => (isEye(x, y, size) ? [30, 25, 25] : [235, 215, 205]));
    const dark = crop(size, (x, y) => (isEye(x, y, size) ? [20, 15, 12] : [95, 62, 45]));
    const { image } = matchFaceTone(pale, dark);
    const toned = skinTone(image);
    const reference = skinTone(dark);
    expect(Math.abs(toned.y - reference.y)).toBeLessThan(6);
    expect(Math.abs(toned.cr - reference.cr)).toBeLessThan(4);
    const eyes: [[number, number], [number, number]] = [
      [0.375 * size, 0.47 * size],
      [0.625 * size, 0.47 * size],
    ];
    expect(eyeContrast(image, eyes)).toBeGreaterThan(0.6);
  });

  it('a blank oval has no eye contrast', () => {
    const size = 96;
    const blank = crop(size, () => [235, 215, 205]);
    expect(eyeContrast(blank, [[36, 45], [60, 45]])).toBeLessThan(0.05);
  });
});

function isEye(x: number, y: number, size: number): boolean {
  return Math.abs(y - 0.47 * size) < 3 && (Math.abs(x - 0.375 * size) < 4 || Math.abs(x - 0.625 * size) < 4);
}

function crop(size: number, colour: (x: number, y: number) => number[]): Image {
  const data = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) data.set(colour(x, y), (y * size + x) * 3);
  return { width: size, height: size, data };
}
