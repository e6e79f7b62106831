/**
 * Photos turned on their side or upside down with no EXIF tag: the faces are still found, in the
 * photo's own frame, and drawn upright by the face model (face-orientation.ts). Portrait fixtures are
 * turned by 90°, 180° and 270° with sharp (which writes no EXIF unless asked) and compared with the
 * same portrait upright.
 */
import sharp from 'sharp';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { AnimefyError } from '#src/errors.ts';
import { decodeImage } from '#src/pipeline/decode.ts';
import { cropForFrame, faceFrame, warpToCrop } from '#src/pipeline/face-align.ts';
import {
  chooseTurn,
  detectFacesAnyOrientation,
  faceFromTurned,
  overlapOfSmaller,
  pointToOriginal,
  pointToTurned,
  rectToOriginal,
  rotateImage,
  type QuarterTurns,
  type TurnedFace,
} from '#src/pipeline/face-orientation.ts';
import { detectFaces, intersectionOverUnion, largestFace, type Face } from '#src/pipeline/faces.ts';
import type { Image, Rect } from '#src/pipeline/image.ts';
import type { FaceBox } from '#src/pipeline/stylize-faces.ts';
import type { AnimefyRequest } from '#src/pipeline/types.ts';
import { fixture, meanAbsDiff, rawRgb, sharedAnimefier, synthetic } from '../helpers/fixtures.ts';

const animefier = sharedAnimefier();
const runtime = animefier.runtime;
const limits = { maxInputBytes: 50 * 1024 * 1024, maxInputPixels: 40_000_000, workingSize: 1280 };
const base: AnimefyRequest = { style: 'hayao', mode: 'full', upscale: 1, quality: 'fast', format: 'png' };
const TURNS = [1, 2, 3] as const;

afterAll(async () => {
  await animefier.dispose();
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** The fixture upright, then turned clockwise by `turns` quarter turns, as a JPEG without EXIF. */
async function turnedJpeg(name: string, turns: number): Promise<Buffer> {
  const upright = await sharp(fixture(name)).rotate().jpeg({ quality: 95 }).toBuffer();
  return turns === 0 ? upright : sharp(upright).rotate(90 * turns).jpeg({ quality: 95 }).toBuffer();
}

async function decoded(bytes: Buffer): Promise<Image> {
  return (await decodeImage(bytes, limits)).image;
}

/** The turn that brings a picture turned clockwise by `turns` back upright. */
function undo(turns: number): QuarterTurns {
  return ((4 - turns) % 4) as QuarterTurns;
}

/** A face of the upright picture where it lies in the picture turned clockwise by `turns`. */
function uprightFaceIn(face: Face, turns: number, turnedWidth: number, turnedHeight: number): Face {
  // The upright picture is the turned one turned by `undo(turns)`: its faces map back like any turn's.
  return faceFromTurned(face, undo(turns), turnedWidth, turnedHeight);
}

/** The face's aligned crop (what the face model is given), small: enough to compare. */
function alignedCrop(image: Image, face: Face): Image {
  return warpToCrop(image, cropForFrame(faceFrame(face), 128));
}

/** Counts YuNet runs on the shared runtime. */
function countDetectorRuns(): () => number {
  const spy = vi.spyOn(runtime, 'runOutputs');
  return () => spy.mock.calls.filter(([id]) => id === 'yunet').length;
}

function boxRect(b: FaceBox): Rect {
  return { x: b.x, y: b.y, width: b.w, height: b.h };
}

describe('quarter turns', () => {
  const image = synthetic(7, 4, (x, y, c) => x * 20 + y * 3 + c);

  it.each(TURNS)('turns a picture %i quarter turn(s) clockwise the way sharp does', async (turns) => {
    const bytes = Buffer.from(Uint8Array.from(image.data));
    const expected = await sharp(bytes, { raw: { width: 7, height: 4, channels: 3 } })
      .rotate(90 * turns)
      .raw()
      .toBuffer({ resolveWithObject: true });
    const turned = rotateImage(image, turns);
    expect([turned.width, turned.height]).toEqual([expected.info.width, expected.info.height]);
    expect(Array.from(turned.data)).toEqual(Array.from(expected.data));
  });

  it.each(TURNS)('maps each turned pixel back onto the pixel it shows (%i turn)', (turns) => {
    const turned = rotateImage(image, turns);
    for (let y = 0; y < turned.height; y++) {
      for (let x = 0; x < turned.width; x++) {
        const [ox, oy] = pointToOriginal([x + 0.5, y + 0.5], turns, image.width, image.height);
        const source = ((oy - 0.5) * image.width + (ox - 0.5)) * 3;
        expect(turned.data[(y * turned.width + x) * 3]).toBe(image.data[source]);
        expect(pointToTurned([ox, oy], turns, image.width, image.height)).toEqual([x + 0.5, y + 0.5]);
      }
    }
    // A box keeps its area and stays inside the picture.
    const box = rectToOriginal({ x: 1, y: 0, width: 2, height: 3 }, turns, image.width, image.height);
    expect(box.width * box.height).toBe(6);
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.y + box.height).toBeLessThanOrEqual(image.height);
  });

  it('measures the overlap on the smaller box', () => {
    expect(overlapOfSmaller({ x: 0, y: 0, width: 10, height: 10 }, { x: 2, y: 2, width: 4, height: 4 })).toBe(1);
    expect(overlapOfSmaller({ x: 0, y: 0, width: 10, height: 10 }, { x: 8, y: 0, width: 4, height: 10 })).toBe(0.5);
    expect(overlapOfSmaller({ x: 0, y: 0, width: 2, height: 2 }, { x: 5, y: 5, width: 2, height: 2 })).toBe(0);
  });
});

describe('choosing the turn', () => {
  const at = (turns: QuarterTurns, score: number, x: number, size = 100): TurnedFace => ({
    turns,
    face: { score, box: { x, y: 0, width: size, height: size }, landmarks: [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0]] },
  });

  it('takes the turn that finds an upright detection better (a sideways face found as upright)', () => {
    expect(chooseTurn([at(0, 0.8, 0), at(3, 0.94, 10), at(2, 0.7, 5)])).toBe(3);
  });

  it('keeps the picture as given when its faces score best upright', () => {
    expect(chooseTurn([at(0, 0.89, 0), at(3, 0.67, 10)])).toBe(0);
  });

  it('ignores weak faces seen only on a turned copy (noise), but not strong ones', () => {
    // A jockey upright at 0.73; a horse's legs upside down at 0.79: noise.
    expect(chooseTurn([at(0, 0.73, 0, 30), at(2, 0.79, 300, 50)])).toBe(0);
    // A false upright face at 0.62 elsewhere; the real face sideways at 0.96: the turn.
    expect(chooseTurn([at(0, 0.62, 500), at(1, 0.96, 0), at(3, 0.89, 10)])).toBe(1);
    // Nothing upright: a turned face must reach MIN_TURNED_SCORE.
    expect(chooseTurn([at(2, 0.63, 0)])).toBe(0);
    expect(chooseTurn([at(2, 0.84, 0)])).toBe(2);
  });

  it('goes by the number of faces, then by score', () => {
    expect(chooseTurn([at(1, 0.9, 0), at(1, 0.8, 300), at(3, 0.95, 600)])).toBe(1);
    expect(chooseTurn([at(1, 0.8, 0), at(3, 0.9, 600)])).toBe(3);
    expect(chooseTurn([])).toBe(0);
  });
});

describe('faces of a turned portrait', () => {
  it.each(['portrait_frontal_2.jpg', 'portrait_glasses_1.jpg'])(
    '%s: found at every turn, on the face, and aligned into the same upright crop',
    async (name) => {
      const upright = await decoded(await turnedJpeg(name, 0));
      const uprightFace = largestFace((await detectFacesAnyOrientation(runtime, upright)).faces)!;
      expect(uprightFace).toBeDefined();
      const uprightCrop = alignedCrop(upright, uprightFace);
      for (const turns of TURNS) {
        const bytes = await turnedJpeg(name, turns);
        expect((await sharp(bytes).metadata()).orientation, 'no EXIF orientation').toBeUndefined();
        const image = await decoded(bytes);
        const found = await detectFacesAnyOrientation(runtime, image, { threshold: 0.6 });
        expect(found.turns, `turn found for ${turns}`).toBe(undo(turns));
        expect(found.faces).toHaveLength(1);
        const [face] = found.faces;
        const expected = uprightFaceIn(uprightFace, turns, image.width, image.height);
        expect(intersectionOverUnion(face.box, expected.box)).toBeGreaterThan(0.5);
        for (const [x, y] of face.landmarks) {
          expect(x).toBeGreaterThan(0);
          expect(x).toBeLessThan(image.width);
          expect(y).toBeGreaterThan(0);
          expect(y).toBeLessThan(image.height);
        }
        // The face model gets the face upright: the crop's frame is the upright face's, turned with the
        // picture (measured within 0.5°, 0.4% of the crop and 1% of scale on these two), so the crop
        // is the upright one (0.5–9 levels apart, the glasses' edges the most), where the upright crop
        // turned would be ~70 levels apart.
        const frame = faceFrame(face);
        const want = faceFrame(expected);
        const angle = Math.atan2(frame.axis[1], frame.axis[0]) - Math.atan2(want.axis[1], want.axis[0]);
        expect(Math.abs(Math.atan2(Math.sin(angle), Math.cos(angle)))).toBeLessThan((4 * Math.PI) / 180);
        expect(Math.hypot(frame.center[0] - want.center[0], frame.center[1] - want.center[1])).toBeLessThan(0.03 * 2 * want.half);
        expect(frame.half / want.half).toBeCloseTo(1, 1);
        const crop = alignedCrop(image, face);
        expect(meanAbsDiff(crop.data, uprightCrop.data)).toBeLessThan(15);
        expect(meanAbsDiff(rotateImage(uprightCrop, turns).data, uprightCrop.data)).toBeGreaterThan(30);
      }
    },
  );
});

describe('a turned portrait through the pipeline', () => {
  const name = 'portrait_frontal_2.jpg';

  it('stylizes the face upright and blends it in place; the picture keeps its turn and size', async () => {
    const upright = await animefier.animefy(await turnedJpeg(name, 0), base);
    const uprightRgb = await rawRgb(upright.data);
    expect(upright.faceBoxes).toHaveLength(1);
    const [uprightBox] = upright.faceBoxes;
    for (const turns of [1, 2] as const) {
      const input = await turnedJpeg(name, turns);
      const inputMeta = await sharp(input).metadata();
      const result = await animefier.animefy(input, base);
      expect([result.width, result.height]).toEqual([inputMeta.width, inputMeta.height]);
      const out = await rawRgb(result.data);
      expect([out.width, out.height]).toEqual([inputMeta.width, inputMeta.height]);

      expect(result.faceBoxes).toHaveLength(1);
      const [box] = result.faceBoxes;
      expect(box.renderer).toBe('face-model');
      expect(result.stylizedFaces).toBe(1);
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.x + box.w).toBeLessThanOrEqual(result.width);
      expect(box.y + box.h).toBeLessThanOrEqual(result.height);
      const expected = rectToOriginal(boxRect(uprightBox), undo(turns), result.width, result.height);
      expect(intersectionOverUnion(boxRect(box), expected)).toBeGreaterThan(0.5);

      // Turned back, the result's face is the upright run's face: the face model drew it the same way
      // up and it was blended where the face is (measured 3 levels; the scene model's rendering
      // of the face when the face model's sideways drawing was refused, before this: 11).
      const back = await rawRgb(await sharp(result.data).rotate(90 * undo(turns)).png().toBuffer());
      const inner = (img: { width: number; data: Buffer }) => {
        const values: number[] = [];
        const { x, y, w, h } = uprightBox;
        for (let yy = Math.round(y + 0.2 * h); yy < y + 0.8 * h; yy++) {
          for (let xx = Math.round(x + 0.2 * w); xx < x + 0.8 * w; xx++) {
            for (let c = 0; c < 3; c++) values.push(img.data[(yy * img.width + xx) * 3 + c]);
          }
        }
        return Uint8Array.from(values);
      };
      expect(meanAbsDiff(inner(back), inner(uprightRgb))).toBeLessThan(6);
    }
  });

  it('face mode makes the same upright avatar from the turned photo', async () => {
    const upright = await animefier.animefy(await turnedJpeg(name, 0), { ...base, mode: 'face' });
    const turned = await animefier.animefy(await turnedJpeg(name, 1), { ...base, mode: 'face' });
    expect(turned.width).toBe(turned.height);
    expect(turned.width).toBe(upright.width);
    expect(turned.stylizedFaces).toBe(1);
    const a = await rawRgb(upright.data);
    const b = await rawRgb(turned.data);
    // Measured 0.7 levels apart; a sideways avatar would be ~65 apart.
    expect(meanAbsDiff(a.data, b.data)).toBeLessThan(5);
    const sideways = await rawRgb(await sharp(upright.data).rotate(90).png().toBuffer());
    expect(meanAbsDiff(sideways.data, b.data)).toBeGreaterThan(30);
  });
});

describe('what the other turns cost', () => {
  it('a sure upright portrait takes one detector run', async () => {
    const runs = countDetectorRuns();
    const found = await detectFacesAnyOrientation(runtime, await decoded(await turnedJpeg('portrait_frontal_2.jpg', 0)));
    expect(found).toMatchObject({ turns: 0, runs: 1 });
    expect(runs()).toBe(1);
  });

  it('a picture with no face still has none, after four detector runs (one per orientation)', async () => {
    for (const turns of [0, 1] as const) {
      const image = await decoded(await turnedJpeg('landscape_1.jpg', turns));
      const runs = countDetectorRuns();
      const start = performance.now();
      const found = await detectFacesAnyOrientation(runtime, image, { threshold: 0.6 });
      const perRun = (performance.now() - start) / found.runs;
      console.info(`no face in ${image.width}x${image.height}: ${found.runs} runs, ${Math.round(perRun)} ms each (turn included)`);
      expect(found.faces).toEqual([]);
      expect(found.runs).toBe(4);
      expect(runs()).toBe(4);
      vi.restoreAllMocks();
    }
    const err = (await animefier
      .animefy(await turnedJpeg('landscape_1.jpg', 1), { ...base, mode: 'face' })
      .catch((e: unknown) => e)) as AnimefyError;
    expect(err).toBeInstanceOf(AnimefyError);
    expect(err.code).toBe('NO_FACE_FOUND');
  });

  it('an upright picture keeps its weak real face over noise seen only upside down', async () => {
    // The jockey is found upright at ~0.73; upside down the horse's head and legs read as faces at
    // ~0.79: the picture must stay as given, with the jockey's face.
    const image = await decoded(await turnedJpeg('small_face_large_scene.jpg', 0));
    const found = await detectFacesAnyOrientation(runtime, image, { threshold: 0.6 });
    expect(found.turns).toBe(0);
    expect(found.faces).toHaveLength(1);
    // The jockey's face, under the green cap at about (260, 60) of the 640x426 picture.
    const { box } = found.faces[0];
    expect(box.x + box.width / 2).toBeGreaterThan(230);
    expect(box.x + box.width / 2).toBeLessThan(290);
    expect(box.y + box.height / 2).toBeGreaterThan(30);
    expect(box.y + box.height / 2).toBeLessThan(90);
  });
});
