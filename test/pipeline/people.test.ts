/**
 * People: the YOLOX decoder and NMS on made-up outputs, the detector on the fixtures, per-person masks,
 * the picker preview, person choices and their errors, and following a person through frames.
 */
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { AnimefyError, formatMessage } from '#src/errors.ts';
import { decodeImage } from '#src/pipeline/decode.ts';
import { detectFaces, type Face } from '#src/pipeline/faces.ts';
import type { Mask } from '#src/pipeline/image.ts';
import { PersonTrack } from '#src/pipeline/media/person-track.ts';
import {
  decodeYolox,
  detectPeople,
  letterbox,
  nonMaxSuppressionBoxes,
  numberLeftToRight,
  YOLOX_SIZE,
  type Person,
} from '#src/pipeline/people.ts';
import { drawPeoplePreview, placeBadges } from '#src/pipeline/people-preview.ts';
import { checkPersonOption, parsePersonChoice, resolvePersonChoice } from '#src/pipeline/person-choice.ts';
import { segmentPerson } from '#src/pipeline/person-mask.ts';
import { coverage, facesOwners, splitPersonMask } from '#src/pipeline/person-split.ts';
import { fixture, sharedRuntime, synthetic } from '../helpers/fixtures.ts';

const runtime = sharedRuntime();
const limits = { maxInputBytes: 50 * 1024 * 1024, maxInputPixels: 40_000_000, workingSize: 1280 };

afterAll(async () => {
  await runtime.dispose();
});

async function working(name: string) {
  return (await decodeImage(fixture(name), limits)).image;
}

/** A YOLOX output with the given anchors set (index, values), every other anchor scoring 0. */
function yoloxOutput(anchors: [number, number[]][]): Float32Array {
  const out = new Float32Array(3549 * 85);
  for (const [i, v] of anchors) out.set(v, i * 85);
  return out;
}

describe('YOLOX decoding', () => {
  it('letterboxes BGR 0..255 into the top-left corner with grey 114 around', () => {
    const image = synthetic(200, 100, (_x, _y, c) => [10, 20, 30][c]); // RGB
    const { tensor, scale } = letterbox(image, YOLOX_SIZE);
    expect(scale).toBeCloseTo(416 / 200);
    const plane = 416 * 416;
    expect([tensor[0], tensor[plane], tensor[2 * plane]]).toEqual([30, 20, 10]); // B, G, R
    const below = 300 * 416 + 10; // under the 416x208 picture: padding
    expect([tensor[below], tensor[plane + below], tensor[2 * plane + below]]).toEqual([114, 114, 114]);
  });

  it('decodes grid, stride and size for each scale, scores obj × person and keeps only persons', () => {
    // Anchor 0: stride 8 cell (0,0). Anchor 2704 + 26 + 3: stride 16, cell (3, 1). Anchor 3548: stride 32, cell (12, 12).
    const out = yoloxOutput([
      [0, [0.5, 0.5, Math.log(2), Math.log(4), 0.9, 0.8]],
      [2704 + 26 + 3, [0, 0, 0, 0, 0.9, 0.9]],
      [3548, [0.5, 0.5, 0, 0, 0.95, 0.1, 0.9]], // a confident non-person (class 1)
    ]);
    const boxes = decodeYolox(out, 416, 0.3);
    expect(boxes).toHaveLength(2);
    expect(boxes[0].score).toBeCloseTo(0.72);
    const near = (box: { x: number; y: number; width: number; height: number }, want: number[]) =>
      [box.x, box.y, box.width, box.height].forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
    near(boxes[0].box, [4 - 8, 4 - 16, 16, 32]);
    near(boxes[1].box, [48 - 8, 16 - 8, 16, 16]);
  });

  it('suppresses overlapping boxes and numbers people left to right by box centre', () => {
    const kept = nonMaxSuppressionBoxes(
      [
        { box: { x: 0, y: 0, width: 10, height: 20 }, score: 0.6 },
        { box: { x: 1, y: 0, width: 10, height: 20 }, score: 0.9 },
        { box: { x: 50, y: 0, width: 10, height: 20 }, score: 0.5 },
      ],
      0.45,
    );
    expect(kept.map((k) => k.score)).toEqual([0.9, 0.5]);
    const numbered = numberLeftToRight([
      { box: { x: 100, y: 0, width: 10, height: 10 }, score: 0.9 },
      { box: { x: 0, y: 0, width: 200, height: 10 }, score: 0.8 }, // centre 100: left of the first (105)
      { box: { x: 20, y: 0, width: 10, height: 10 }, score: 0.7 },
    ]);
    expect(numbered.map((p) => [p.index, p.box.x])).toEqual([
      [1, 20],
      [2, 0],
      [3, 100],
    ]);
  });
});

describe('detectPeople on the fixtures', () => {
  it('finds one box per visible person in the group photos, numbered left to right, each holding its face', async () => {
    for (const [name, count] of [
      ['group_3faces.jpg', 3],
      ['group_6faces.jpg', 6],
    ] as const) {
      const image = await working(name);
      const people = await detectPeople(runtime, image);
      expect(people, name).toHaveLength(count);
      const centres = people.map((p) => p.box.x + p.box.width / 2);
      expect([...centres].sort((a, b) => a - b)).toEqual(centres);
      expect(people.map((p) => p.index)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
      for (const p of people) expect(p.score).toBeGreaterThan(0.5);
      // Every face found lies in some person's box.
      for (const face of await detectFaces(runtime, image)) {
        const cx = face.box.x + face.box.width / 2;
        const cy = face.box.y + face.box.height / 2;
        expect(people.some((p) => cx >= p.box.x && cx <= p.box.x + p.box.width && cy >= p.box.y && cy <= p.box.y + p.box.height), name).toBe(true);
      }
    }
  });

  it('finds nobody in photos without people, and one person in a portrait', async () => {
    for (const name of ['landscape_1.jpg', 'street_1.jpg', 'room_1.jpg']) {
      expect(await detectPeople(runtime, await working(name)), name).toEqual([]);
    }
    expect(await detectPeople(runtime, await working('portrait_frontal_1.jpg'))).toHaveLength(1);
  });
});

describe('per-person masks', () => {
  it('cuts the group mask into one mask per person that stays in their box, without doubling any pixel', async () => {
    const image = await working('group_6faces.jpg');
    const people = await detectPeople(runtime, image);
    const mask = await segmentPerson(runtime, image);
    const split = splitPersonMask(mask, people, { image });
    const masks = people.map((_, i) => split.maskOf([i]));
    expect(split.areas).toHaveLength(6);
    let overflow = 0;
    for (let p = 0; p < mask.data.length; p++) {
      let sum = 0;
      for (const m of masks) sum += m.data[p];
      overflow = Math.max(overflow, sum - mask.data[p]);
    }
    expect(overflow).toBeLessThan(0.02); // the pieces never add up to more than the mask
    masks.forEach((m, i) => {
      expect(coverage(m), `person ${i + 1}`).toBeGreaterThan(0.04);
      expect(split.areas[i]).toBeCloseTo(coverage(m), 2);
      expect(shareInBox(m, people[i]), `person ${i + 1}`).toBeGreaterThan(0.9);
    });
  });

  it('gives a region in one box to that person whole, leaves regions in no box to nobody, and finds faces their owner', () => {
    // Two blobs: one inside box A (poking a little into B's box), one outside both boxes.
    const width = 100;
    const height = 60;
    const data = new Float32Array(width * height);
    for (let y = 10; y < 50; y++) for (let x = 10; x < 48; x++) data[y * width + x] = 1;
    for (let y = 0; y < 8; y++) for (let x = 80; x < 100; x++) data[y * width + x] = 1;
    const mask: Mask = { width, height, data };
    const people: Person[] = [
      { index: 1, box: { x: 8, y: 8, width: 36, height: 44 }, score: 0.9 },
      { index: 2, box: { x: 44, y: 20, width: 30, height: 35 }, score: 0.9 },
    ];
    const split = splitPersonMask(mask, people);
    expect(split.owner[30 * width + 46]).toBe(0); // the arm in B's box stays A's
    expect(split.owner[4 * width + 90]).toBe(-1);
    expect(coverage(split.maskOf([1]))).toBe(0);
    expect(split.areas[1]).toBe(0);
    const face: Face = { box: { x: 20, y: 12, width: 10, height: 10 }, score: 0.9, landmarks: [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0]] };
    expect(facesOwners([face], people, split)).toEqual([0]);
  });

  it('splits two touching people by colour where their boxes overlap, the nearer one winning at equal colour', () => {
    // One blob: a grey person on the left, a brown one on the right, boxes overlapping in the middle.
    const width = 120;
    const height = 80;
    const image = synthetic(width, height, (x, _y, c) => (x < 70 ? 128 : [150, 90, 40][c]));
    const data = new Float32Array(width * height);
    for (let y = 5; y < 75; y++) for (let x = 10; x < 110; x++) data[y * width + x] = 1;
    const mask: Mask = { width, height, data };
    const people: Person[] = [
      { index: 1, box: { x: 10, y: 5, width: 70, height: 70 }, score: 0.9 },
      { index: 2, box: { x: 50, y: 5, width: 60, height: 70 }, score: 0.9 },
    ];
    const split = splitPersonMask(mask, people, { image });
    expect(split.owner[40 * width + 66]).toBe(0); // grey, in both boxes: the grey person's
    expect(split.owner[40 * width + 74]).toBe(1); // brown, in both boxes: the brown person's
  });
});

describe('person choices', () => {
  it('parses numbers, lists, largest and all, and refuses anything else', () => {
    expect(parsePersonChoice('2')).toEqual([2]);
    expect(parsePersonChoice('3, 1,3')).toEqual([1, 3]);
    expect(parsePersonChoice([2, 1])).toEqual([1, 2]);
    expect(parsePersonChoice(' ALL ')).toBe('all');
    expect(parsePersonChoice('largest')).toBe('largest');
    for (const bad of ['0', '-1', '1.5', 'two', '', [], ['1'], {}]) {
      expect(() => parsePersonChoice(bad), JSON.stringify(bad)).toThrow(AnimefyError);
    }
  });

  it('resolves largest by size, and refuses a number past the last person with the count in the message', () => {
    expect(resolvePersonChoice('largest', 3, [0.1, 0.3, 0.2])).toEqual([1]);
    expect(resolvePersonChoice('all', 3, [])).toEqual([0, 1, 2]);
    expect(resolvePersonChoice([1, 3], 3, [])).toEqual([0, 2]);
    const err = catchError(() => resolvePersonChoice([7], 3, []));
    expect(err.code).toBe('PERSON_NOT_FOUND');
    expect(err.message).toBe('There are 3 people in that picture (numbered from left to right), so there is no person 7: pick a number from 1 to 3.');
    expect(catchError(() => resolvePersonChoice([2], 1, [])).message).toMatch(/^There is only 1 person in that picture, so there is no person 2: pick 1\./);
    expect(catchError(() => resolvePersonChoice('largest', 0, [])).code).toBe('NO_PERSON_FOUND');
  });

  it('only lets person mode and erase pick people', () => {
    expect(() => checkPersonOption('person', undefined, [2])).not.toThrow();
    expect(() => checkPersonOption('full', 'erase', [2])).not.toThrow();
    expect(() => checkPersonOption('full', undefined, undefined)).not.toThrow();
    expect(catchError(() => checkPersonOption('background', 'animefy', 'all')).message).toMatch(/person mode and for erase, not in background mode/);
  });

  it('has a user-fit message for every new error, with no placeholder left', () => {
    const messages = [
      formatMessage('ERASE_TOO_LARGE', { who: 'That person fills', percent: 84, limit: 60 }),
      formatMessage('ERASE_NOT_FOR_CLIPS'),
      formatMessage('NO_PERSON_FOUND'),
    ];
    for (const m of messages) expect(m).not.toMatch(/[{}]/);
    expect(messages[0]).toBe(
      'That person fills 84% of the picture, and I can only erase up to 60%: too little background would be left to rebuild behind them. Try a photo where they are smaller.',
    );
    expect(messages[1]).toMatch(/photos only, not on GIFs or videos/);
  });
});

describe('the picker preview', () => {
  it('draws each person a numbered circle in their colour, 1024 px long, circles apart', async () => {
    const bytes = fixture('group_6faces.jpg');
    const decoded = await decodeImage(bytes, limits);
    const people = await detectPeople(runtime, decoded.image);
    const preview = await drawPeoplePreview(decoded.original, people);
    expect([preview.width, preview.height]).toEqual([1024, Math.round((511 * 1024) / 768)]);
    const k = 1024 / 768;
    const badges = placeBadges(preview.width, preview.height, people.map((p) => ({ index: p.index, box: scale(p.box, k) })));
    expect(badges.map((b) => b.index)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const b of badges) {
      expect(b.r).toBeGreaterThanOrEqual(22); // big enough to read and tap on a phone
      for (const o of badges) if (o !== b) expect(Math.hypot(o.cx - b.cx, o.cy - b.cy)).toBeGreaterThan(o.r + b.r);
    }
    // Inside each circle, left of its digit: the circle's colour, not the photo's.
    const photo = await sharp(decoded.original.rgb, { raw: { width: 768, height: 511, channels: 3 } }).resize(preview.width, preview.height).raw().toBuffer();
    const colours = [[0xe6, 0x19, 0x4b], [0x3c, 0xb4, 0x4b], [0x43, 0x63, 0xd8]];
    for (const b of badges.slice(0, 3)) {
      const i = (Math.round(b.cy) * preview.width + Math.round(b.cx - b.r * 0.75)) * 3;
      const got = [preview.rgb[i], preview.rgb[i + 1], preview.rgb[i + 2]];
      const want = colours[b.index - 1];
      expect(Math.max(...got.map((v, c) => Math.abs(v - want[c]))), `badge ${b.index}`).toBeLessThan(12);
      expect(Math.max(...got.map((v, c) => Math.abs(v - photo[i + c])))).toBeGreaterThan(20);
      // The digit: white strokes over a good part of the circle's middle.
      let white = 0;
      let all = 0;
      for (let y = Math.round(b.cy - b.r / 2); y <= b.cy + b.r / 2; y++) {
        for (let x = Math.round(b.cx - b.r / 2); x <= b.cx + b.r / 2; x++) {
          const j = (y * preview.width + x) * 3;
          all++;
          if (preview.rgb[j] > 225 && preview.rgb[j + 1] > 225 && preview.rgb[j + 2] > 225) white++;
        }
      }
      expect(white / all, `badge ${b.index} digit`).toBeGreaterThan(0.08);
    }
  });
});

describe('PersonTrack', () => {
  const face = (x: number, y: number): Face => ({ box: { x, y, width: 10, height: 10 }, score: 0.9, landmarks: [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0]] });
  const person = (x: number, score = 0.9): Person => ({ index: 0, box: { x, y: 10, width: 30, height: 80 }, score });
  const mask = (width: number, boxes: Person[]): Mask => {
    const data = new Float32Array(width * 100);
    for (const p of boxes) for (let y = p.box.y + 2; y < p.box.y + p.box.height - 2; y++) for (let x = p.box.x + 3; x < p.box.x + p.box.width - 3; x++) data[y * width + x] = 1;
    return { width, height: 100, data };
  };
  const numbered = (people: Person[]) => numberLeftToRight(people);

  it('follows person 2 as the people move, keeps them through a missed frame, and lets the face decide a crossing', () => {
    const track = new PersonTrack([2]);
    let frame = numbered([person(10), person(60)]);
    let t = track.frame(frame, mask(200, frame), [face(20, 12), face(70, 12)]);
    expect(t.positions.map((i) => t.people[i].box.x)).toEqual([60]);
    // They walk towards each other.
    frame = numbered([person(20), person(50)]);
    t = track.frame(frame, mask(200, frame), [face(30, 12), face(60, 12)]);
    expect(t.positions.map((i) => t.people[i].box.x)).toEqual([50]);
    // The detector misses everyone: person 2 keeps their last box.
    t = track.frame([], mask(200, frame), []);
    expect(t.positions.map((i) => t.people[i].box)).toEqual([person(50).box]);
    // Two detections overlap it about equally; the one at 36 overlaps a little more, but the face near
    // where person 2's face was belongs to the one at 35 (the clearer detection owns the shared pixels).
    frame = numbered([person(35, 0.95), person(36, 0.8)]);
    t = track.frame(frame, mask(200, frame), [face(56, 12), face(30, 12)]);
    expect(t.positions.map((i) => t.people[i].box.x)).toEqual([35]);
  });

  it('refuses a number the first frame does not have', () => {
    const frame = numbered([person(10)]);
    expect(catchError(() => new PersonTrack([3]).frame(frame, mask(200, frame), [])).code).toBe('PERSON_NOT_FOUND');
  });
});

function shareInBox(m: Mask, p: Person): number {
  let inside = 0;
  let total = 0;
  const b = p.box;
  for (let y = 0; y < m.height; y++) {
    for (let x = 0; x < m.width; x++) {
      const v = m.data[y * m.width + x];
      total += v;
      if (x >= b.x - 0.06 * b.width && x < b.x + 1.06 * b.width && y >= b.y - 0.06 * b.height && y < b.y + 1.06 * b.height) inside += v;
    }
  }
  return total > 0 ? inside / total : 0;
}

function scale(r: { x: number; y: number; width: number; height: number }, k: number) {
  return { x: r.x * k, y: r.y * k, width: r.width * k, height: r.height * k };
}

function catchError(f: () => unknown): AnimefyError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(AnimefyError);
    return err as AnimefyError;
  }
  throw new Error('expected an AnimefyError');
}
