/**
 * What a person sees of a face in a result, measured on the decoded input and output (both RGB at the
 * same size) in a reported face box:
 * - spread: the luma standard deviation in the box's inner 60%, output over input (a blank oval has
 *   lost the eyes and mouth that make the spread);
 * - brightness: the mean luma change in that region minus the whole picture's change;
 * - face-to-neck ΔE: the CIE76 distance between the median Lab of the face interior and of the skin
 *   just below the chin.
 * And the derived group pictures the face tests and the bench share: a crowd of small faces, a group
 * in shadow, a small face with glasses in warm indoor light.
 */
import sharp from 'sharp';
import type { FaceBox } from '#src/pipeline/stylize-faces.ts';
import { deltaE, rgbToLab } from '#src/pipeline/color.ts';
import { fixture } from './fixtures.ts';

export interface Rgb {
  width: number;
  height: number;
  data: Uint8Array;
}

interface Region {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export function innerRegion(box: FaceBox): Region {
  return { x0: box.x + 0.2 * box.w, y0: box.y + 0.2 * box.h, x1: box.x + 0.8 * box.w, y1: box.y + 0.8 * box.h };
}

/** Below the chin: the middle 40% of the box's width, from its bottom down a quarter of its height. */
export function neckRegion(box: FaceBox): Region {
  return { x0: box.x + 0.3 * box.w, y0: box.y + 1.02 * box.h, x1: box.x + 0.7 * box.w, y1: box.y + 1.27 * box.h };
}

function pixels(img: Rgb, r: Region, visit: (i: number) => void): void {
  const ya = Math.max(0, Math.round(r.y0));
  const yb = Math.min(img.height, Math.round(r.y1));
  const xa = Math.max(0, Math.round(r.x0));
  const xb = Math.min(img.width, Math.round(r.x1));
  for (let y = ya; y < yb; y++) for (let x = xa; x < xb; x++) visit((y * img.width + x) * 3);
}

export function lumaStats(img: Rgb, r: Region): { mean: number; sd: number } {
  let n = 0;
  let s = 0;
  let s2 = 0;
  pixels(img, r, (i) => {
    const l = 0.299 * img.data[i] + 0.587 * img.data[i + 1] + 0.114 * img.data[i + 2];
    n++;
    s += l;
    s2 += l * l;
  });
  const mean = s / Math.max(1, n);
  return { mean, sd: Math.sqrt(Math.max(0, s2 / Math.max(1, n) - mean * mean)) };
}

export interface FaceCheck {
  box: FaceBox;
  /** Output spread / input spread in the inner face. */
  spread: number;
  /** Brightness change in the inner face minus the picture's, luma levels. */
  brightness: number;
}

export function checkFaces(input: Rgb, output: Rgb, boxes: readonly FaceBox[]): FaceCheck[] {
  const whole = { x0: 0, y0: 0, x1: input.width, y1: input.height };
  const global = lumaStats(output, whole).mean - lumaStats(input, whole).mean;
  return boxes.map((box) => {
    const a = lumaStats(input, innerRegion(box));
    const b = lumaStats(output, innerRegion(box));
    return { box, spread: b.sd / Math.max(1e-6, a.sd), brightness: b.mean - a.mean - global };
  });
}

function medianLab(img: Rgb, r: Region): number[] {
  const ls: number[] = [];
  const as: number[] = [];
  const bs: number[] = [];
  const lab = [0, 0, 0];
  pixels(img, r, (i) => {
    rgbToLab(img.data[i], img.data[i + 1], img.data[i + 2], lab);
    ls.push(lab[0]);
    as.push(lab[1]);
    bs.push(lab[2]);
  });
  const median = (v: number[]) => v.sort((p, q) => p - q)[Math.floor(v.length / 2)] ?? 0;
  return [median(ls), median(as), median(bs)];
}

export function faceToNeckDeltaE(img: Rgb, box: FaceBox): number {
  return deltaE(medianLab(img, innerRegion(box)), medianLab(img, neckRegion(box)));
}

export async function decodeRgb(bytes: Buffer | Uint8Array): Promise<Rgb> {
  const { data, info } = await sharp(bytes).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

/** Group pictures made from the fixtures (JPEG bytes), for the hard cases the fixtures lack. */
export const DERIVED_GROUPS = {
  /** 30 faces of 23–34 px: four office groups and two astronaut groups at about half size, tiled. */
  crowd: async (): Promise<Buffer> => {
    const scaled = async (name: string, k: number, flip: boolean) => {
      const meta = await sharp(fixture(name)).metadata();
      let s = sharp(fixture(name)).resize(Math.round(meta.width! * k), Math.round(meta.height! * k));
      if (flip) s = s.flop();
      const { data, info } = await s.png().toBuffer({ resolveWithObject: true });
      return { data, width: info.width, height: info.height };
    };
    const office = await scaled('group_6faces.jpg', 0.44, false);
    const officeFlipped = await scaled('group_6faces.jpg', 0.44, true);
    const crew = await scaled('group_3faces.jpg', 0.5, false);
    const crewFlipped = await scaled('group_3faces.jpg', 0.5, true);
    const w = office.width;
    const h = office.height;
    return sharp({ create: { width: 3 * w, height: h + Math.max(h, crew.height), channels: 3, background: '#808080' } })
      .composite([
        { input: office.data, left: 0, top: 0 },
        { input: officeFlipped.data, left: w, top: 0 },
        { input: office.data, left: 2 * w, top: 0 },
        { input: officeFlipped.data, left: 0, top: h },
        { input: crew.data, left: w, top: h },
        { input: crewFlipped.data, left: w + crew.width, top: h },
      ])
      .jpeg({ quality: 90 })
      .toBuffer();
  },
  /** The office group under-exposed, as in a dim room or in shadow. */
  shadow: (): Promise<Buffer> => sharp(fixture('group_6faces.jpg')).gamma(2.2, 1.0).linear(0.55, 0).jpeg({ quality: 90 }).toBuffer(),
  /** Grace Hopper at 270 px wide (a 110 px face with glasses) in warm tungsten light. */
  warmGlasses: (): Promise<Buffer> =>
    sharp(fixture('portrait_glasses_1.jpg'))
      .resize(270)
      .recomb([
        [1.1, 0.1, 0],
        [0.05, 0.85, 0],
        [0, 0.05, 0.55],
      ])
      .jpeg({ quality: 90 })
      .toBuffer(),
};

/**
 * The hard group pictures the face tests check and the faces bench reports on: the derived ones above
 * and the fixtures' own groups, with the fewest faces the detector must find in each.
 */
export const FACE_GROUPS: { name: string; input: () => Promise<Buffer>; minFaces: number }[] = [
  { name: 'a crowd of 30 small faces', input: DERIVED_GROUPS.crowd, minFaces: 26 },
  { name: 'a group in shadow', input: DERIVED_GROUPS.shadow, minFaces: 5 },
  { name: 'glasses in warm indoor light', input: DERIVED_GROUPS.warmGlasses, minFaces: 1 },
  { name: 'the office group', input: async () => fixture('group_6faces.jpg'), minFaces: 5 },
  { name: 'the Apollo crew', input: async () => fixture('group_3faces.jpg'), minFaces: 3 },
  { name: 'a frame of the GIF (glasses, 3/4 view)', input: () => sharp(fixture('face_clip.gif'), { page: 15 }).png().toBuffer(), minFaces: 1 },
];
