/**
 * Stickers: the die-cut shape on synthetic planes, then whole stickers from real fixtures and models.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnimefyError } from '#src/errors.ts';
import { decodeImage } from '#src/pipeline/decode.ts';
import { detectFacesAnyOrientation } from '#src/pipeline/face-orientation.ts';
import { Progress } from '#src/pipeline/progress.ts';
import { dieCut, distanceTransform, fillHoles, type DieCutSpec } from '#src/pipeline/sticker-shape.ts';
import { discordEmojiFromSticker, encodeSticker, stickerCutout, type Cutout } from '#src/pipeline/sticker.ts';
import type { AnimefyRequest } from '#src/pipeline/types.ts';
import { fixture, sharedAnimefier } from '../helpers/fixtures.ts';

const KB = 1024;

describe('die-cut shape', () => {
  it('measures exact Euclidean distances', () => {
    const width = 23;
    const height = 17;
    const sites = new Uint8Array(width * height);
    for (const p of [5, 77, 200, 390]) sites[p] = 1;
    const d = distanceTransform(sites, width, height);
    for (let p = 0; p < sites.length; p++) {
      let best = Infinity;
      for (let q = 0; q < sites.length; q++) {
        if (sites[q]) best = Math.min(best, Math.hypot((p % width) - (q % width), Math.floor(p / width) - Math.floor(q / width)));
      }
      expect(d[p]).toBeCloseTo(best, 5);
    }
  });

  it('fills a small hole and an unsure one, not a large clear one or a gap open to the edge', () => {
    const size = { width: 40, height: 20 };
    const inside = new Float32Array(40 * 20);
    const soft = new Float32Array(40 * 20);
    const rect = (x0: number, y0: number, x1: number, y1: number, v: number, plane: Float32Array) => {
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) plane[y * 40 + x] = v;
    };
    rect(1, 1, 39, 19, 1, inside);
    rect(3, 3, 5, 5, 0, inside); // 4 px: small
    rect(8, 3, 18, 17, 0, inside); // 140 px: large and clear
    rect(22, 3, 32, 17, 0, inside); // 140 px, but the segmenter was unsure there
    rect(22, 3, 32, 17, 0.4, soft);
    rect(35, 0, 37, 10, 0, inside); // a notch open to the border
    fillHoles(inside, soft, size, 20, 0.2);
    expect(inside[4 * 40 + 4]).toBe(1);
    expect(inside[10 * 40 + 12]).toBe(0);
    expect(inside[10 * 40 + 26]).toBe(1);
    expect(inside[5 * 40 + 36]).toBe(0);
  });

  it('draws a round outline of the given width, the person inset under it and a shadow below', () => {
    const side = 100;
    const field = new Float32Array(side * side);
    for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) field[y * side + x] = Math.hypot(x + 0.5 - 50, y + 0.5 - 50) <= 30 ? 1 : 0;
    const spec: DieCutSpec = { outline: 8, rounding: 4, inset: 1, edge: 2, shadow: { dx: 0, dy: 3, sigma: 2, opacity: 0.35 } };
    const layers = dieCut(field, { width: side, height: side }, { scale: 1, x: 0, y: 0 }, { width: side, height: side }, spec);
    const at = (plane: Float32Array, x: number, y: number) => plane[Math.round(y) * side + Math.round(x)];
    // Along the row through the centre: the disc's edge at 20 and 80, the outline's at 12 and 88.
    expect(at(layers.person, 50, 50)).toBe(1);
    expect(at(layers.person, 20, 50)).toBe(0); // the inset pixel
    expect(at(layers.person, 22, 50)).toBe(1);
    expect(at(layers.outline, 14, 50)).toBe(1);
    expect(at(layers.outline, 86, 50)).toBe(1);
    expect(at(layers.outline, 10, 50)).toBe(0);
    expect(at(layers.outline, 90, 50)).toBe(0);
    for (const angle of [0.3, 1.1, 2.5, 4]) {
      // Round: 6 px out from the disc's edge is still outline in every direction, 10 px is not.
      expect(at(layers.outline, 50 + 36 * Math.cos(angle), 50 + 36 * Math.sin(angle))).toBeGreaterThan(0.9);
      expect(at(layers.outline, 50 + 40 * Math.cos(angle), 50 + 40 * Math.sin(angle))).toBeLessThan(0.1);
    }
    // The shadow reaches further below than above.
    expect(at(layers.shadow, 50, 90)).toBeGreaterThan(at(layers.shadow, 50, 10));
    expect(Math.max(...layers.shadow)).toBeLessThanOrEqual(0.35 + 1e-6);
    expect(at(layers.core, 50, 50)).toBe(1);
    expect(at(layers.core, 22, 50)).toBe(0);
  });
});

describe('stickers from photos', () => {
  const pipeline = sharedAnimefier();
  const base: AnimefyRequest = { style: 'hayao', mode: 'full', upscale: 1, quality: 'fast', format: 'webp', operation: 'sticker' };
  let portrait: Cutout;

  beforeAll(async () => {
    const decoded = await decodeImage(fixture('portrait_frontal_1.jpg'), { maxInputBytes: 50 * KB * KB, maxInputPixels: 40_000_000, workingSize: 1280 });
    const { faces } = await detectFacesAnyOrientation(pipeline.runtime, decoded.image, { threshold: 0.6 });
    const progress = new Progress(['mask', 'stylize', 'colour', 'grade', 'compose']);
    portrait = await stickerCutout(pipeline.runtime, pipeline.settings, decoded, faces, pipeline.style('hayao'), base, progress, []);
  });

  afterAll(async () => {
    await pipeline.dispose();
  });

  const alphaAt = (c: Cutout, x: number, y: number) => c.data[(Math.round(y) * c.width + Math.round(x)) * 4 + 3];
  const rgbaAt = (c: Cutout, x: number, y: number) => [...c.data.subarray((Math.round(y) * c.width + Math.round(x)) * 4, (Math.round(y) * c.width + Math.round(x)) * 4 + 4)];

  function expectTransparentCorners(c: Cutout): void {
    for (const [x, y] of [[0, 0], [c.width - 1, 0], [0, c.height - 1], [c.width - 1, c.height - 1]]) expect(alphaAt(c, x, y)).toBe(0);
  }

  it('is 512 px on its long side, transparent round the person, the face fully opaque', () => {
    expect(Math.max(portrait.width, portrait.height)).toBe(512);
    expect(Math.min(portrait.width, portrait.height)).toBeGreaterThan(300);
    expect(portrait.data.length).toBe(portrait.width * portrait.height * 4);
    expectTransparentCorners(portrait);
    let transparent = 0;
    for (let p = 3; p < portrait.data.length; p += 4) if (portrait.data[p] === 0) transparent++;
    expect(transparent / (portrait.width * portrait.height)).toBeGreaterThan(0.1);

    const face = portrait.face!;
    expect(face.width).toBeGreaterThan(80);
    expect(alphaAt(portrait, face.x + face.width / 2, face.y + face.height / 2)).toBe(255);
    let opaque = 0;
    let total = 0;
    for (let y = Math.ceil(face.y); y < face.y + face.height; y++) {
      for (let x = Math.ceil(face.x); x < face.x + face.width; x++) {
        total++;
        if (alphaAt(portrait, x, y) === 255) opaque++;
      }
    }
    expect(opaque / total).toBeGreaterThanOrEqual(0.95);
  });

  it('has a white outline just inside its edge and a soft dark shadow below', () => {
    const face = portrait.face!;
    const cx = face.x + face.width / 2;
    const cy = face.y + face.height / 2;
    // Out from the face: up over the head, left and right over the hair or shoulders, down to the cut.
    for (const [dx, dy] of [[0, -1], [-1, 0], [1, 0], [-0.7, -0.7], [0.7, -0.7], [0, 1]]) {
      let t = 0;
      while (alphaAt(portrait, cx + dx * (t + 1), cy + dy * (t + 1)) >= 250) t++;
      // The last opaque pixels along the ray are the outline: white, opaque.
      for (const back of [1, 3, 5]) {
        const [r, g, b, a] = rgbaAt(portrait, cx + dx * (t - back), cy + dy * (t - back));
        expect(a).toBe(255);
        expect(Math.min(r, g, b)).toBeGreaterThanOrEqual(235);
      }
      // Further in, the person's own colours: not the white outline.
      const inner = rgbaAt(portrait, cx + dx * (t - 14), cy + dy * (t - 14));
      expect(Math.min(inner[0], inner[1], inner[2])).toBeLessThan(235);
    }
    // Below the bottom edge: the shadow, dark and partly transparent.
    let t = 0;
    while (alphaAt(portrait, cx, cy + t + 1) >= 250) t++;
    const [r, g, b, a] = rgbaAt(portrait, cx, cy + t + 3);
    expect(a).toBeGreaterThan(10);
    expect(a).toBeLessThan(150);
    expect(Math.max(r, g, b)).toBeLessThan(80);
  });

  it('encodes as WebP within Telegram\'s 512 KB, lowering the quality when the limit is tight', async () => {
    const webp = await encodeSticker(portrait, 'webp', 512 * KB);
    expect(webp.byteLength).toBeLessThanOrEqual(512 * KB);
    const meta = await sharp(webp).metadata();
    expect(meta.format).toBe('webp');
    expect(meta.hasAlpha).toBe(true);
    expect([meta.width, meta.height]).toEqual([portrait.width, portrait.height]);
    const tight = Math.floor(webp.byteLength * 0.6);
    const smaller = await encodeSticker(portrait, 'webp', tight);
    expect(smaller.byteLength).toBeLessThanOrEqual(tight);
    await expect(encodeSticker(portrait, 'webp', 100)).rejects.toMatchObject({ code: 'RESULT_TOO_LARGE' });
  });

  it('makes a 320 px PNG sticker through the pipeline, and a 128 px emoji from it', async () => {
    const result = await pipeline.animefy(fixture('portrait_frontal_1.jpg'), { ...base, format: 'png', size: 320 });
    expect(result.operation).toBe('sticker');
    expect(result.format).toBe('png');
    expect(result.mime).toBe('image/png');
    expect(result.data.byteLength).toBeLessThanOrEqual(512 * KB);
    expect(Math.max(result.width, result.height)).toBe(320);
    expect(result.faces).toBe(1);
    expect(result.faceBoxes).toHaveLength(1);
    expect(result.timings.compose).toBeGreaterThan(0);
    const { data, info } = await sharp(result.data).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([result.width, result.height, 4]);
    expectTransparentCorners({ width: info.width, height: info.height, data });
    expect(alphaAt({ width: info.width, height: info.height, data }, info.width / 2, info.height / 2)).toBe(255);

    const emoji = await discordEmojiFromSticker(result.data);
    expect(emoji.byteLength).toBeLessThanOrEqual(256 * KB);
    const small = await sharp(emoji).raw().toBuffer({ resolveWithObject: true });
    expect([small.info.width, small.info.height, small.info.channels]).toEqual([128, 128, 4]);
    expectTransparentCorners({ width: 128, height: 128, data: small.data });
    expect(alphaAt({ width: 128, height: 128, data: small.data }, 64, 64)).toBe(255);
  });

  it('cuts out one whole person with `body`', async () => {
    const result = await pipeline.animefy(fixture('group_3faces.jpg'), { ...base, body: true });
    expect(result.format).toBe('webp');
    expect(result.data.byteLength).toBeLessThanOrEqual(512 * KB);
    // One person standing or sitting is taller than wide; the three together are wider than tall.
    expect(result.height).toBe(512);
    expect(result.width).toBeLessThan(0.8 * 512);
    const { data, info } = await sharp(result.data).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const cut = { width: info.width, height: info.height, data };
    expectTransparentCorners(cut);
    let opaque = 0;
    for (let p = 3; p < data.length; p += 4) if (data[p] === 255) opaque++;
    expect(opaque / (info.width * info.height)).toBeGreaterThan(0.3);
    expect(result.stylizedFaces).toBeLessThanOrEqual(1);
  });

  it('says when there is no face, or nobody for `body`', async () => {
    const noFace = await pipeline.animefy(fixture('landscape_1.jpg'), base).catch((e: unknown) => e);
    expect(noFace).toBeInstanceOf(AnimefyError);
    expect((noFace as AnimefyError).code).toBe('NO_FACE_FOUND');
    const nobody = await pipeline.animefy(fixture('landscape_1.jpg'), { ...base, body: true }).catch((e: unknown) => e);
    expect(nobody).toBeInstanceOf(AnimefyError);
    expect((nobody as AnimefyError).code).toBe('NO_PERSON_FOUND');
  });
});
