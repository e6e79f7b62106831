/**
 * The image pipeline end to end on real fixtures and real models.
 */
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { AnimefyError } from '#src/errors.ts';
import { decodeImage } from '#src/pipeline/decode.ts';
import { detectFaces } from '#src/pipeline/faces.ts';
import { MODE_IDS } from '#src/pipeline/modes.ts';
import { segmentPerson } from '#src/pipeline/person-mask.ts';
import type { ProgressEvent } from '#src/pipeline/progress.ts';
import { STYLES } from '#src/pipeline/styles.ts';
import type { AnimefyRequest } from '#src/pipeline/types.ts';
import { fixture, meanAbsDiff, rawRgb, sharedAnimefier, sharedRuntime } from '../helpers/fixtures.ts';

const animefier = sharedAnimefier();
const runtime = sharedRuntime();
const limits = { maxInputBytes: 50 * 1024 * 1024, maxInputPixels: 40_000_000, workingSize: 1280 };
const base: AnimefyRequest = { style: 'hayao', mode: 'full', upscale: 1, quality: 'fast', format: 'png' };

afterAll(async () => {
  await animefier.dispose();
  await runtime.dispose();
});

async function facesIn(name: string): Promise<number> {
  const { image } = await decodeImage(fixture(name), limits);
  return (await detectFaces(runtime, image, { threshold: 0.6 })).length;
}

/**
 * Share of 16x16 blocks that are perfectly uniform in a colour unlike the photo's there: a blank,
 * black (NaN) or white-out area. Flat colour areas that follow the photo (cartoon styles) pass.
 */
function blankBlockShare(out: { width: number; height: number; data: Buffer }, photo: { data: Buffer }): number {
  let blank = 0;
  let total = 0;
  for (let by = 0; by + 16 <= out.height; by += 16) {
    for (let bx = 0; bx + 16 <= out.width; bx += 16) {
      total++;
      const first = (by * out.width + bx) * 3;
      let uniform = true;
      const photoMean = [0, 0, 0];
      for (let y = by; y < by + 16; y++) {
        for (let x = bx; x < bx + 16; x++) {
          const i = (y * out.width + x) * 3;
          for (let c = 0; c < 3; c++) {
            if (out.data[i + c] !== out.data[first + c]) uniform = false;
            photoMean[c] += photo.data[i + c] / 256;
          }
        }
      }
      const unlike = [0, 1, 2].some((c) => Math.abs(out.data[first + c] - photoMean[c]) > 40);
      if (uniform && unlike) blank++;
    }
  }
  return blank / total;
}

describe('faces', () => {
  it('finds the three astronauts, at least five of six office workers, and no face in scenery', async () => {
    expect(await facesIn('group_3faces.jpg')).toBe(3);
    expect(await facesIn('group_6faces.jpg')).toBeGreaterThanOrEqual(5);
    expect(await facesIn('landscape_1.jpg')).toBe(0);
    expect(await facesIn('street_1.jpg')).toBe(0);
  });

  it('puts the five landmarks where a face is: eyes above the mouth, inside the box', async () => {
    const { image } = await decodeImage(fixture('portrait_frontal_2.jpg'), limits);
    const [face] = await detectFaces(runtime, image);
    const [eyeR, eyeL, nose, mouthR, mouthL] = face.landmarks;
    expect(eyeR[0]).toBeLessThan(eyeL[0]); // image-left eye first
    expect(nose[1]).toBeGreaterThan(eyeR[1]);
    expect(mouthR[1]).toBeGreaterThan(nose[1]);
    expect(mouthL[1]).toBeGreaterThan(nose[1]);
    for (const [x, y] of face.landmarks) {
      expect(x).toBeGreaterThan(face.box.x);
      expect(x).toBeLessThan(face.box.x + face.box.width);
      expect(y).toBeGreaterThan(face.box.y);
      expect(y).toBeLessThan(face.box.y + face.box.height);
    }
  });

  it('counts faces in the result metadata', async () => {
    const result = await animefier.animefy(fixture('group_3faces.jpg'), base);
    expect(result.faces).toBe(3);
    expect(result.stylizedFaces).toBe(3);
  });
});

describe('decode', () => {
  it('turns an EXIF-rotated photo upright: same orientation and content as the upright original', async () => {
    const rotated = await decodeImage(fixture('portrait_exif_rotated.jpg'), limits);
    const upright = await decodeImage(fixture('portrait_frontal_2.jpg'), limits);
    expect([rotated.image.width, rotated.image.height]).toEqual([upright.image.width, upright.image.height]);
    expect(meanAbsDiff(rotated.image.data, upright.image.data)).toBeLessThan(6);
    const result = await animefier.animefy(fixture('portrait_exif_rotated.jpg'), base);
    expect([result.width, result.height]).toEqual([679, 768]);
    expect(result.faces).toBe(1);
  });

  it('accepts the single-channel grayscale photo', async () => {
    const result = await animefier.animefy(fixture('fullbody_grayscale.jpg'), { ...base, format: 'jpeg' });
    const meta = await sharp(result.data).metadata();
    expect([meta.width, meta.height, meta.format, meta.channels]).toEqual([512, 512, 'jpeg', 3]);
  });

  it('keeps the transparency of an RGBA input', async () => {
    const result = await animefier.animefy(fixture('anime_fullbody_1.png'), { ...base, style: 'cartoon' });
    const { data, info } = await sharp(result.data).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(4);
    expect([info.width, info.height]).toEqual([456, 700]);
    expect(data[3]).toBe(0); // top-left corner is transparent background
    const centre = ((info.height >> 1) * info.width + (info.width >> 1)) * 4;
    expect(data[centre + 3]).toBe(255);
  });

  it('normalises CMYK and 16-bit inputs to 8-bit RGB with the same picture', async () => {
    const photo = fixture('portrait_frontal_1.jpg');
    const reference = await decodeImage(photo, limits);
    const cmyk = await sharp(photo).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    const deep = await sharp(photo).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    expect((await sharp(deep).metadata()).depth).toBe('ushort');
    for (const bytes of [cmyk, deep]) {
      const decoded = await decodeImage(bytes, limits);
      expect([decoded.image.width, decoded.image.height]).toEqual([512, 512]);
      expect(meanAbsDiff(decoded.image.data, reference.image.data)).toBeLessThan(8);
    }
  });

  it('works at the capped resolution and answers at the input size', async () => {
    const big = await sharp(fixture('portrait_frontal_1.jpg')).resize(1800, 1800).jpeg().toBuffer();
    const decoded = await decodeImage(big, limits);
    expect([decoded.image.width, decoded.image.height]).toEqual([1280, 1280]);
    const result = await animefier.animefy(big, { ...base, format: 'jpeg' });
    expect([result.width, result.height]).toEqual([1800, 1800]);
    const meta = await sharp(result.data).metadata();
    expect([meta.width, meta.height]).toEqual([1800, 1800]);
  });

  it('rejects a truncated JPEG, a text file and an empty file with typed errors', async () => {
    const jpeg = fixture('portrait_frontal_1.jpg');
    const cases: [Buffer, string][] = [
      [jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'CORRUPT_IMAGE'],
      [Buffer.from('hello, this is not an image\n'.repeat(20)), 'NOT_AN_IMAGE'],
      [Buffer.alloc(0), 'EMPTY_INPUT'],
    ];
    for (const [bytes, code] of cases) {
      const err = await animefier.animefy(bytes, base).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AnimefyError);
      expect((err as AnimefyError).code).toBe(code);
    }
  });

  it('rejects a picture over the pixel limit before decoding it', async () => {
    const huge = await sharp({ create: { width: 9000, height: 5000, channels: 3, background: '#345' } }).png().toBuffer();
    const err = (await animefier.animefy(huge, base).catch((e: unknown) => e)) as AnimefyError;
    expect(err.code).toBe('INPUT_TOO_MANY_PIXELS');
    expect(err.message).toMatch(/45 MP/);
  });
});

describe('every style and mode', () => {
  const input = fixture('portrait_frontal_1.jpg'); // 512x512 astronaut: one face, one person
  let original: Awaited<ReturnType<typeof rawRgb>>;

  for (const { id: style, approximation } of STYLES) {
    // A recipe runs the models of another style (tested in every mode) plus its grade: full mode shows the grade.
    const modes = approximation ? (['full'] as const) : MODE_IDS;
    it(`${style}: ${approximation ? 'full mode returns' : 'each mode returns'} a valid, changed picture of the right size`, async () => {
      original ??= await rawRgb(input);
      for (const mode of modes) {
        const result = await animefier.animefy(input, { ...base, style, mode });
        const out = await rawRgb(result.data);
        expect(result.style).toBe(style);
        if (mode === 'face') {
          // An avatar: a square crop of the face.
          expect([out.width, out.height]).toEqual([512, 512]);
        } else {
          expect([out.width, out.height], `${style}/${mode}`).toEqual([512, 512]);
          expect(meanAbsDiff(out.data, original.data), `${style}/${mode} differs from the photo`).toBeGreaterThan(3);
        }
        if (mode !== 'face') {
          expect(blankBlockShare(out, original), `${style}/${mode} has blank areas`).toBeLessThan(style === 'sketch' ? 0.5 : 0.02);
        }
        expect(Object.keys(result.timings)).toContain('total');
      }
    });
  }
});

describe('person and background modes', () => {
  it('person mode stylizes the person and keeps the real background', async () => {
    const input = fixture('portrait_frontal_2.jpg');
    const decoded = await decodeImage(input, limits);
    const mask = await segmentPerson(runtime, decoded.image);
    const result = await animefier.animefy(input, { ...base, mode: 'person' });
    const out = await rawRgb(result.data);
    const photo = await rawRgb(input);
    let bgDiff = 0;
    let bgCount = 0;
    let personDiff = 0;
    let personCount = 0;
    for (let p = 0; p < mask.data.length; p++) {
      const d = (Math.abs(out.data[p * 3] - photo.data[p * 3]) + Math.abs(out.data[p * 3 + 1] - photo.data[p * 3 + 1]) + Math.abs(out.data[p * 3 + 2] - photo.data[p * 3 + 2])) / 3;
      if (mask.data[p] < 0.02) {
        bgDiff += d;
        bgCount++;
      } else if (mask.data[p] > 0.98) {
        personDiff += d;
        personCount++;
      }
    }
    expect(bgCount).toBeGreaterThan(mask.data.length * 0.1);
    expect(personCount).toBeGreaterThan(mask.data.length * 0.1);
    expect(bgDiff / bgCount).toBeLessThan(2);
    expect(personDiff / personCount).toBeGreaterThan(10);
  });

  it('background mode does the opposite', async () => {
    const input = fixture('portrait_glasses_1.jpg'); // flag behind: a background with something to stylize
    const mask = await segmentPerson(runtime, (await decodeImage(input, limits)).image);
    const out = await rawRgb((await animefier.animefy(input, { ...base, mode: 'background' })).data);
    const photo = await rawRgb(input);
    const diff = { person: 0, personCount: 0, background: 0, backgroundCount: 0 };
    for (let p = 0; p < mask.data.length; p++) {
      const d = Math.abs(out.data[p * 3 + 1] - photo.data[p * 3 + 1]);
      if (mask.data[p] > 0.98) {
        diff.person += d;
        diff.personCount++;
      } else if (mask.data[p] < 0.02) {
        diff.background += d;
        diff.backgroundCount++;
      }
    }
    expect(diff.person / diff.personCount).toBeLessThan(2);
    expect(diff.background / diff.backgroundCount).toBeGreaterThan(5);
  });

  it('high quality uses the ISNet mask and keeps the background just as well', async () => {
    const input = fixture('portrait_frontal_2.jpg');
    const result = await animefier.animefy(input, { ...base, mode: 'person', quality: 'high' });
    const out = await rawRgb(result.data);
    const photo = await rawRgb(input);
    // The top corners are wall: unchanged; the face centre is stylized.
    const at = (img: { data: Buffer; width: number }, x: number, y: number) => img.data[(y * img.width + x) * 3 + 1];
    expect(Math.abs(at(out, 10, 10) - at(photo, 10, 10))).toBeLessThan(3);
    expect(Math.abs(at(out, 668, 10) - at(photo, 668, 10))).toBeLessThan(3);
    expect(meanAbsDiff(out.data, photo.data)).toBeGreaterThan(5);
  });

  it('person mode on a picture without people says so', async () => {
    const err = (await animefier.animefy(fixture('landscape_1.jpg'), { ...base, mode: 'person' }).catch((e: unknown) => e)) as AnimefyError;
    expect(err.code).toBe('NO_PERSON_FOUND');
  });

  it('face mode without a face says so', async () => {
    const err = (await animefier.animefy(fixture('street_1.jpg'), { ...base, mode: 'face' }).catch((e: unknown) => e)) as AnimefyError;
    expect(err.code).toBe('NO_FACE_FOUND');
  });
});

describe('colour', () => {
  it('keeps the photo in RGB order and its overall tones (no colour shift)', async () => {
    for (const name of ['landscape_1.jpg', 'portrait_facepaint_1.jpg']) {
      const photo = await rawRgb(fixture(name));
      const meansIn = channelMeans(photo.data);
      for (const style of ['hayao', 'shinkai']) {
        const out = await rawRgb((await animefier.animefy(fixture(name), { ...base, style })).data);
        const meansOut = channelMeans(out.data);
        for (let c = 0; c < 3; c++) expect(Math.abs(meansOut[c] - meansIn[c]), `${name} ${style} channel ${c}`).toBeLessThan(20);
        // The ordering of the channels (e.g. green grass > blue) survives: a swapped R/B would flip it.
        expect(Math.sign(meansOut[0] - meansOut[2])).toBe(Math.sign(meansIn[0] - meansIn[2]));
      }
    }
  });

  it('a red picture stays red and a blue one blue through the models', async () => {
    for (const [r, b] of [
      [200, 40],
      [40, 200],
    ]) {
      const input = await sharp(fixture('street_1.jpg')).tint({ r, g: 60, b }).jpeg().toBuffer();
      const out = channelMeans((await rawRgb((await animefier.animefy(input, { ...base, style: 'cartoon' })).data)).data);
      expect(Math.sign(out[0] - out[2])).toBe(Math.sign(r - b));
    }
  });
});

describe('upscale, progress, cancel', () => {
  it('upscales ×2 to twice the input size', async () => {
    const result = await animefier.animefy(fixture('portrait_frontal_1.jpg'), { ...base, upscale: 2, format: 'jpeg' });
    const meta = await sharp(result.data).metadata();
    expect([meta.width, meta.height]).toEqual([1024, 1024]);
    expect(result.timings.upscale).toBeGreaterThan(0);
  });

  it('reports progress by stage, in order, ending at 100%', async () => {
    const events: ProgressEvent[] = [];
    await animefier.animefy(fixture('portrait_frontal_1.jpg'), { ...base, onProgress: (e) => events.push(e) });
    const stages = [...new Set(events.map((e) => e.stage))];
    expect(stages).toEqual(['decode', 'faces', 'stylize', 'colour', 'face_stylize', 'grade', 'compose', 'encode']);
    for (let i = 1; i < events.length; i++) expect(events[i].percent).toBeGreaterThanOrEqual(events[i - 1].percent);
    expect(events.at(-1)?.percent).toBe(100);
  });

  it('stops with CANCELLED when the signal fires', async () => {
    const controller = new AbortController();
    const pending = animefier.animefy(fixture('portrait_frontal_1.jpg'), {
      ...base,
      signal: controller.signal,
      onProgress: (e) => {
        if (e.stage === 'stylize') controller.abort();
      },
    });
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});

function channelMeans(data: Buffer): [number, number, number] {
  const sums = [0, 0, 0];
  for (let i = 0; i < data.length; i += 3) {
    sums[0] += data[i];
    sums[1] += data[i + 1];
    sums[2] += data[i + 2];
  }
  const n = data.length / 3;
  return [sums[0] / n, sums[1] / n, sums[2] / n];
}
