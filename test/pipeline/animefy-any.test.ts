/**
 * The pipeline's single entry (animefy-any.ts): routing by what the bytes are (a declared kind is only
 * a hint), the default output format, format preferences across the two families, and face mode
 * refused on a clip.
 */
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { animefyAny, mediaKindOf, type Pipelines } from '#src/pipeline/animefy-any.ts';
import { MediaPipeline } from '#src/pipeline/media/media-pipeline.ts';
import { rejection } from '../helpers/errors.ts';
import { config, fixture, sharedAnimefier } from '../helpers/fixtures.ts';

const image = sharedAnimefier();
const pipelines: Pipelines = { image, media: MediaPipeline.fromConfig(config, image) };
const base = { style: 'hayao', mode: 'full', upscale: 1, quality: 'fast' } as const;
const text = Buffer.from('not a picture');

afterAll(async () => {
  await image.dispose();
});

describe('mediaKindOf', () => {
  it('believes the bytes over the declared kind, and the declared kind over nothing', () => {
    expect(mediaKindOf(fixture('portrait_frontal_1.jpg'), 'video')).toBe('image');
    expect(mediaKindOf(fixture('face_clip.gif'), 'image')).toBe('gif');
    expect(mediaKindOf(text, 'video')).toBe('video');
    expect(mediaKindOf(text)).toBe('image');
  });
});

describe('animefyAny', () => {
  it('sends a photo to the image pipeline whatever it was declared as: JPEG by default, else the first picture format asked for', async () => {
    const input = await sharp(fixture('portrait_frontal_1.jpg')).resize(256, 256).jpeg().toBuffer();
    const plain = await animefyAny(pipelines, input, { ...base, kind: 'video' });
    expect(plain).toMatchObject({ kind: 'image', format: 'jpeg', mime: 'image/jpeg', width: 256, height: 256 });
    expect(plain.media).toBeUndefined();
    const webp = await animefyAny(pipelines, input, { ...base, format: ['mp4', 'webp', 'png'] });
    expect(webp).toMatchObject({ kind: 'image', format: 'webp', mime: 'image/webp' });
    expect((await sharp(webp.data).metadata()).format).toBe('webp');
  });

  it('keeps transparency: a picture with alpha comes back as PNG when no picture format is asked for', async () => {
    const input = await sharp(fixture('portrait_frontal_1.jpg')).resize(128, 128).ensureAlpha(0.5).png().toBuffer();
    const result = await animefyAny(pipelines, input, { ...base, format: 'gif' });
    expect(result).toMatchObject({ kind: 'image', format: 'png', mime: 'image/png' });
    expect((await sharp(result.data).metadata()).hasAlpha).toBe(true);
  });

  it('refuses face mode on a clip', async () => {
    expect((await rejection(animefyAny(pipelines, fixture('face_clip.gif'), { ...base, mode: 'face' }))).code).toBe('BAD_OPTION');
  });

  it('sends bytes that are nothing known to the image pipeline, whose decode stage says what is wrong', async () => {
    expect((await rejection(animefyAny(pipelines, text, base))).code).toBe('NOT_AN_IMAGE');
  });
});
