/**
 * Picking people end to end, real models and fixtures: only the chosen person becomes anime on the
 * real photo; erase removes them (the detector no longer finds them there); the picker preview; the
 * errors (a number past the last person, someone too big to erase, erase on a clip, nobody there); and
 * a person followed through a clip.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { animefyAny, type Pipelines } from '#src/pipeline/animefy-any.ts';
import { intersectionOverUnion } from '#src/pipeline/faces.ts';
import type { Image, Mask, Rect } from '#src/pipeline/image.ts';
import { MediaPipeline } from '#src/pipeline/media/media-pipeline.ts';
import { detectPeople, type PersonBox } from '#src/pipeline/people.ts';
import type { AnimefyRequest } from '#src/pipeline/types.ts';
import { rejection } from '../helpers/errors.ts';
import { config, fixture, fixturePath, rawRgb, sharedAnimefier } from '../helpers/fixtures.ts';
import { paths } from '../helpers/make-media.ts';

const image = sharedAnimefier();
const pipelines: Pipelines = { image, media: MediaPipeline.fromConfig(config, image) };
const base: AnimefyRequest = { style: 'hayao', mode: 'person', upscale: 1, quality: 'fast', format: 'png' };
const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'animefy-people-'));

afterAll(async () => {
  fs.rmSync(tempDir, { recursive: true, force: true });
  await image.dispose();
});

type Raw = Awaited<ReturnType<typeof rawRgb>>;

/** Mean absolute difference (0..255) of two same-size pictures inside `box`, minus the pixels inside `minus`. */
function diffIn(a: Raw, b: Raw, box: PersonBox, minus?: PersonBox): number {
  let sum = 0;
  let count = 0;
  for (let y = Math.max(0, box.y); y < Math.min(a.height, box.y + box.h); y++) {
    for (let x = Math.max(0, box.x); x < Math.min(a.width, box.x + box.w); x++) {
      if (minus && x >= minus.x && x < minus.x + minus.w && y >= minus.y && y < minus.y + minus.h) continue;
      const i = (y * a.width + x) * 3;
      sum += (Math.abs(a.data[i] - b.data[i]) + Math.abs(a.data[i + 1] - b.data[i + 1]) + Math.abs(a.data[i + 2] - b.data[i + 2])) / 3;
      count++;
    }
  }
  return count > 0 ? sum / count : 0;
}

function asImage(raw: Raw): Image {
  return { width: raw.width, height: raw.height, data: Float32Array.from(raw.data) };
}

const rect = (b: PersonBox): Rect => ({ x: b.x, y: b.y, width: b.w, height: b.h });

describe('person mode with a chosen person', () => {
  it('stylizes only person 2 of six; everyone else and the background stay as they were', async () => {
    const input = fixture('group_6faces.jpg');
    const result = await image.animefy(input, { ...base, person: [2] });
    expect(result.people).toHaveLength(6);
    expect(result.chosen).toEqual([2]);
    expect(result.stylizedFaces).toBeLessThanOrEqual(1); // only person 2's face went to the face model
    const photo = await rawRgb(input);
    const out = await rawRgb(result.data);
    const people = result.people!;
    const chosen = people[1];
    expect(diffIn(out, photo, chosen), 'person 2').toBeGreaterThan(6);
    for (const other of people.filter((p) => p.index !== 2)) {
      // Their own pixels (outside person 2's box, which overlaps theirs a little) are untouched...
      expect(diffIn(out, photo, other, chosen), `person ${other.index}`).toBeLessThan(1);
      // ...and over their whole box the change stays small.
      expect(diffIn(out, photo, other), `person ${other.index} whole box`).toBeLessThan(3);
    }
    // Far from person 2 (the right half of the picture) nothing changed at all.
    expect(diffIn(out, photo, { index: 0, x: 400, y: 0, w: 368, h: 511, score: 0 })).toBeLessThan(0.2);
  });

  it('refuses a person number past the last person, saying how many there are', async () => {
    const err = await rejection(image.animefy(fixture('group_3faces.jpg'), { ...base, person: [7] }));
    expect(err.code).toBe('PERSON_NOT_FOUND');
    expect(err.message).toMatch(/^There are 3 people in that picture .*no person 7: pick a number from 1 to 3\.$/);
  });

  it('refuses a person pick outside person mode and erase', async () => {
    expect((await rejection(image.animefy(fixture('group_3faces.jpg'), { ...base, mode: 'full', person: [1] }))).code).toBe('BAD_OPTION');
  });
});

describe('erase', () => {
  it('removes person 2 of six: the detector finds nobody where they stood, and still finds the other five', async () => {
    const input = fixture('group_6faces.jpg');
    const result = await image.animefy(input, { ...base, operation: 'erase', person: [2] });
    expect(result.operation).toBe('erase');
    expect(result.chosen).toEqual([2]);
    expect([result.width, result.height]).toEqual([768, 511]);
    const erased = rect(result.people![1]);
    const out = await rawRgb(result.data);
    const after = await detectPeople(image.runtime, asImage(out));
    for (const p of after) expect(intersectionOverUnion(p.box, erased), `a person at ${JSON.stringify(p.box)}`).toBeLessThan(0.3);
    const others = result.people!.filter((p) => p.index !== 2).map(rect);
    expect(others.filter((o) => after.some((p) => intersectionOverUnion(p.box, o) > 0.5))).toHaveLength(5);
    // The rest of the photo is the photo.
    const photo = await rawRgb(input);
    expect(diffIn(out, photo, { index: 0, x: 420, y: 0, w: 348, h: 511, score: 0 })).toBeLessThan(0.2);
  });

  it('refuses to erase someone who fills most of the picture', async () => {
    const err = await rejection(image.animefy(fixture('portrait_frontal_2.jpg'), { ...base, operation: 'erase' }));
    expect(err.code).toBe('ERASE_TOO_LARGE');
    expect(err.message).toMatch(/^That person fills \d\d% of the picture, and I can only erase up to 60%/);
    expect(Number(err.params.percent)).toBeGreaterThan(60);
  });

  it('says erasing is for photos when given a clip, and that there is nobody to erase in scenery', async () => {
    const clip = await rejection(animefyAny(pipelines, fixture('face_clip.gif'), { ...base, operation: 'erase' }));
    expect(clip.code).toBe('ERASE_NOT_FOR_CLIPS');
    expect(clip.message).toMatch(/photos only, not on GIFs or videos/);
    expect((await rejection(image.animefy(fixture('landscape_1.jpg'), { ...base, operation: 'erase' }))).code).toBe('NO_PERSON_FOUND');
  });
});

describe('the people preview', () => {
  it('comes back through the pipeline entry as a 1024 px JPEG with everyone numbered, for photos and clips', async () => {
    const request = { ...base, format: undefined, operation: 'people' } as const; // no format asked: JPEG
    const photo = await animefyAny(pipelines, fixture('group_3faces.jpg'), { ...request, mode: 'full' });
    expect(photo).toMatchObject({ kind: 'image', format: 'jpeg', operation: 'people', width: 1024 });
    expect(photo.people?.map((p) => p.index)).toEqual([1, 2, 3]);
    const meta = await sharp(photo.data).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 1024, Math.round((471 * 1024) / 600)]);
    const clip = await animefyAny(pipelines, fixture('talking_clip.mp4'), request);
    expect(clip).toMatchObject({ kind: 'video', format: 'jpeg', operation: 'people' });
    expect(clip.people).toHaveLength(1);
    expect((await rejection(animefyAny(pipelines, fixture('street_1.jpg'), request))).code).toBe('NO_PERSON_FOUND');
  });

  it('gives the bots the same preview as a function', async () => {
    const preview = await image.peoplePreview(fixture('group_6faces.jpg'));
    expect(preview).toMatchObject({ format: 'jpeg', mime: 'image/jpeg', width: 1024 });
    expect(preview.people.map((p) => p.index)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('a chosen person in a clip', () => {
  it('follows person 3 as the camera pans: their mask moves with them, nobody else is drawn', async () => {
    // A pan across the office group: everyone slides 16 px a frame to the left, 96 px in all.
    const gif = path.join(tempDir, 'pan.gif');
    execFileSync(paths.ffmpeg, [
      '-v', 'error', '-y', '-loop', '1', '-framerate', '6', '-i', fixturePath('group_6faces.jpg'),
      '-vf', "scale=512:-2,crop=320:240:x='n*16':y=60", '-frames:v', '7', gif,
    ]);
    // What each frame is stylized with: the mask of who is drawn, and the faces drawn.
    const seen: { photo: Image; mask: Mask; faces: number }[] = [];
    const stylizeFrame = image.stylizeFrame.bind(image);
    const spy = vi.spyOn(image, 'stylizeFrame').mockImplementation(async (photo, frame) => {
      seen.push({ photo, mask: frame.mask!, faces: frame.faces.length });
      return stylizeFrame(photo, frame);
    });
    let result;
    try {
      result = await animefyAny(pipelines, fs.readFileSync(gif), { ...base, format: 'gif', person: [3] });
    } finally {
      spy.mockRestore();
    }
    expect(result.chosen).toEqual([3]);
    expect(result.media?.frames).toBe(7);
    expect(seen).toHaveLength(7);
    const first = result.people!;
    expect(first.length).toBeGreaterThanOrEqual(3);
    for (const [i, frame] of seen.entries()) {
      // Where person 3 is now: the detection overlapping their first-frame box moved by the pan.
      const moved: Rect = { x: first[2].x - 16 * i, y: first[2].y, width: first[2].w, height: first[2].h };
      const now = await detectPeople(image.runtime, frame.photo);
      const tracked = now.reduce((best, p) => (intersectionOverUnion(p.box, moved) > intersectionOverUnion(best.box, moved) ? p : best));
      expect(intersectionOverUnion(tracked.box, moved), `frame ${i}`).toBeGreaterThan(0.5);
      expect(massIn(frame.mask, tracked.box), `frame ${i}: person 3 drawn`).toBeGreaterThan(0.9);
      // Someone else drawn would be 0.5 or more; the mask smoothed with the previous frame leaves a
      // faint trail of person 3 where they were a frame ago.
      for (const other of now.filter((p) => p !== tracked)) {
        expect(meanIn(frame.mask, other.box, tracked.box), `frame ${i}: someone at x=${Math.round(other.box.x)}`).toBeLessThan(0.12);
      }
      expect(frame.faces, `frame ${i}`).toBeLessThanOrEqual(1);
    }
  });
});

/** Share of a mask's total inside a box. */
function massIn(mask: Mask, box: Rect): number {
  let inside = 0;
  let total = 0;
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      const v = mask.data[y * mask.width + x];
      total += v;
      if (x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height) inside += v;
    }
  }
  return total > 0 ? inside / total : 0;
}

/** Mean mask value inside `box`, leaving out the pixels inside `minus`. */
function meanIn(mask: Mask, box: Rect, minus: Rect): number {
  let sum = 0;
  let count = 0;
  for (let y = Math.max(0, Math.floor(box.y)); y < Math.min(mask.height, box.y + box.height); y++) {
    for (let x = Math.max(0, Math.floor(box.x)); x < Math.min(mask.width, box.x + box.width); x++) {
      if (x >= minus.x && x < minus.x + minus.width && y >= minus.y && y < minus.y + minus.height) continue;
      sum += mask.data[y * mask.width + x];
      count++;
    }
  }
  return count > 0 ? sum / count : 0;
}
