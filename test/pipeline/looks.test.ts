/**
 * The model-free looks (nostalgic, papercut, comic) on real fixtures at 1024 px: what each filter
 * must do to a photo, measured, and that clip frames do not flicker. One end-to-end run through the
 * image pipeline checks that a filter style needs no model call.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyGrade } from '#src/pipeline/grade.ts';
import { planStages } from '#src/pipeline/image-pipeline.ts';
import { imageFromBytes, imageToBytes, luma, type Image } from '#src/pipeline/image.ts';
import { halftoneStep, LookMemory, type ComicSpec, type PapercutSpec } from '#src/pipeline/looks.ts';
import { getStyle, resolveStyle, styleModels } from '#src/pipeline/styles.ts';
import { fixture, rawRgb, sharedAnimefier } from '../helpers/fixtures.ts';

const FILTERS = ['nostalgic', 'papercut', 'comic'] as const;
const grade = (id: string) => getStyle(id).grade!;

async function load(name: string, long = 1024): Promise<Image> {
  const { data, info } = await sharp(fixture(name)).rotate().resize(long, long, { fit: 'inside' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return imageFromBytes(data, info.width, info.height);
}

/** Mean of max − min channel: how colourful a picture is. */
function meanChroma(img: Image): number {
  let sum = 0;
  const d = img.data;
  for (let i = 0; i < d.length; i += 3) sum += Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]);
  return sum / (d.length / 3);
}

function quantile(plane: Float32Array, q: number): number {
  const sorted = Float32Array.from(plane).sort();
  return sorted[Math.floor(q * (sorted.length - 1))];
}

/** Mean luma of the four corner blocks over the centre block (blocks of 12% of the short side). */
function cornerToCentre(img: Image): number {
  const l = luma(img);
  const { width: w, height: h } = img;
  const b = Math.round(Math.min(w, h) * 0.12);
  const mean = (x0: number, y0: number) => {
    let s = 0;
    for (let y = y0; y < y0 + b; y++) for (let x = x0; x < x0 + b; x++) s += l[y * w + x];
    return s / (b * b);
  };
  const corners = (mean(0, 0) + mean(w - b, 0) + mean(0, h - b) + mean(w - b, h - b)) / 4;
  return corners / mean(Math.round((w - b) / 2), Math.round((h - b) / 2));
}

/** Normalised autocorrelation of the high-passed luma at offset (dx, dy). */
function autocorrelation(img: Image, dx: number, dy: number): number {
  const l = luma(img);
  const { width: w, height: h } = img;
  const hp = new Float32Array(l.length);
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const p = y * w + x;
      hp[p] = l[p] - (l[p - 1] + l[p + 1] + l[p - w] + l[p + w]) / 4;
    }
  }
  let cross = 0;
  let self = 0;
  for (let y = 8; y < h - 8 - dy; y++) {
    for (let x = 8 + Math.max(0, -dx); x < w - 8 - Math.max(0, dx); x++) {
      const p = y * w + x;
      cross += hp[p] * hp[p + dy * w + dx];
      self += hp[p] * hp[p];
    }
  }
  return cross / self;
}

describe('filter styles in the registry', () => {
  it('need no model, keep faces with the filter, and skip the model stages', () => {
    for (const id of FILTERS) {
      const style = resolveStyle(id, () => true);
      expect(style.sceneModel).toBeNull();
      expect(style.faceModel).toBeNull();
      expect(styleModels(style)).toEqual([]);
      expect(style.trained).toBe(false);
      expect(planStages('full', 1, style)).toEqual(['decode', 'grade', 'compose', 'encode']);
      expect(planStages('face', 2, style)).toEqual(['decode', 'faces', 'grade', 'upscale', 'compose', 'encode']);
    }
  });
});

describe('nostalgic', () => {
  let portrait: Image;
  let street: Image;
  beforeAll(async () => {
    portrait = await load('portrait_frontal_1.jpg');
    street = await load('street_1.jpg');
  });

  it('mutes colour, lifts the blacks and darkens the corners', () => {
    for (const input of [portrait, street]) {
      const out = applyGrade(input, grade('nostalgic'));
      expect(meanChroma(out)).toBeLessThan(meanChroma(input) * 0.92);
      // Faded film: the darkest 1% is a soft grey, not black.
      expect(quantile(luma(input), 0.01)).toBeLessThan(5);
      expect(quantile(luma(out), 0.01)).toBeGreaterThan(18);
      // Vignette: both photos have light corners; the film's are clearly darker relative to the centre.
      expect(cornerToCentre(out)).toBeLessThan(cornerToCentre(input) * 0.75);
    }
  });

  it('adds moderate grain, the same in every frame, and warms the highlights', () => {
    const spec = grade('nostalgic');
    const out = applyGrade(portrait, spec);
    const clean = applyGrade(portrait, { ...spec, film: { ...spec.film!, grain: 0 } });
    const grainOf = (a: Image, b: Image) => {
      const la = luma(a);
      const lb = luma(b);
      return la.map((v, p) => v - lb[p]);
    };
    const grain = grainOf(out, clean);
    const std = Math.sqrt(grain.reduce((sum, v) => sum + v * v, 0) / grain.length);
    expect(std).toBeGreaterThan(3);
    expect(std).toBeLessThan(10);
    // Another picture of the same size (a darker frame) gets the same grain pattern: it is tied to
    // the pixel position, so a still clip does not shimmer.
    const darker = { ...portrait, data: portrait.data.map((v) => v * 0.8) };
    const other = grainOf(applyGrade(darker, spec), applyGrade(darker, { ...spec, film: { ...spec.film!, grain: 0 } }));
    let cross = 0;
    let aa = 0;
    let bb = 0;
    for (let p = 0; p < grain.length; p++) {
      cross += grain[p] * other[p];
      aa += grain[p] * grain[p];
      bb += other[p] * other[p];
    }
    expect(cross / Math.sqrt(aa * bb)).toBeGreaterThan(0.9);
    // Highlights (luma > 200) lean warm: red above blue.
    let warm = 0;
    let bright = 0;
    for (let i = 0; i < out.data.length; i += 3) {
      const l = 0.299 * out.data[i] + 0.587 * out.data[i + 1] + 0.114 * out.data[i + 2];
      if (l <= 200) continue;
      bright++;
      if (out.data[i] > out.data[i + 2] + 8) warm++;
    }
    expect(bright).toBeGreaterThan(1000);
    expect(warm / bright).toBeGreaterThan(0.8);
  });
});

describe('papercut', () => {
  it('is a few flat sheets: six colours cover most of the picture', async () => {
    for (const name of ['portrait_frontal_1.jpg', 'street_1.jpg']) {
      const input = await load(name);
      const memory = new LookMemory();
      const out = applyGrade(input, grade('papercut'), memory);
      const sheets = memory.papercut!.colours;
      expect(sheets.length / 3).toBe(6);
      // Sheets are stacked by brightness, darkest first.
      const lumas = [...Array(6).keys()].map((c) => 0.299 * sheets[c * 3] + 0.587 * sheets[c * 3 + 1] + 0.114 * sheets[c * 3 + 2]);
      expect(lumas).toEqual([...lumas].sort((a, b) => a - b));
      const share = (img: Image) => {
        let near = 0;
        for (let i = 0; i < img.data.length; i += 3) {
          for (let c = 0; c < 6; c++) {
            const d = Math.hypot(img.data[i] - sheets[c * 3], img.data[i + 1] - sheets[c * 3 + 1], img.data[i + 2] - sheets[c * 3 + 2]);
            if (d < 16) {
              near++;
              break;
            }
          }
        }
        return near / (img.data.length / 3);
      };
      // The rest is shadow, cut edges and paper grain; the photo itself is far from these colours.
      expect(share(out), name).toBeGreaterThan(0.75);
      expect(share(input), name).toBeLessThan(0.3);
    }
  });

  it('casts soft shadows down-right from the upper (brighter) sheets', async () => {
    const input = await load('portrait_frontal_1.jpg');
    const spec = grade('papercut').papercut as PapercutSpec;
    const lit = luma(applyGrade(input, { papercut: { ...spec, shadow: 0 } }));
    const shaded = luma(applyGrade(input, { papercut: spec }));
    const { width: w, height: h } = input;
    const s = Math.round(spec.shadowOffset * Math.min(w, h));
    let maxDarkening = 0;
    for (let p = 0; p < lit.length; p++) maxDarkening = Math.max(maxDarkening, lit[p] - shaded[p]);
    let inShadow = 0;
    let upLeft = 0;
    let downRight = 0;
    let soft = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const p = y * w + x;
        const darkening = lit[p] - shaded[p];
        if (darkening <= 4) continue;
        inShadow++;
        if (darkening < maxDarkening / 2) soft++;
        // A brighter sheet within three offsets along the diagonal, either way.
        let brighterUpLeft = false;
        let brighterDownRight = false;
        for (let t = 1; t <= 3 * s; t++) {
          if (y >= t && x >= t && lit[p - t * w - t] > lit[p] + 10) brighterUpLeft = true;
          if (y + t < h && x + t < w && lit[p + t * w + t] > lit[p] + 10) brighterDownRight = true;
        }
        if (brighterUpLeft) upLeft++;
        if (brighterDownRight) downRight++;
      }
    }
    expect(maxDarkening).toBeGreaterThan(50);
    expect(inShadow / lit.length).toBeGreaterThan(0.05);
    expect(upLeft / inShadow).toBeGreaterThan(0.75);
    expect(upLeft / inShadow - downRight / inShadow).toBeGreaterThan(0.2);
    // Soft: most shadow pixels are in the fading part, not at full darkness.
    expect(soft / inShadow).toBeGreaterThan(0.5);
  });
});

describe('comic', () => {
  it('prints dots on a 45° screen, with black ink', async () => {
    const spec = grade('comic').comic as ComicSpec;
    for (const name of ['portrait_frontal_1.jpg', 'street_1.jpg']) {
      const input = await load(name);
      const out = applyGrade(input, grade('comic'));
      const a = halftoneStep(spec.pitch, Math.max(input.width, input.height) / 1024);
      // Dots repeat along the screen's lattice steps (a, a) and (−a, a), and not halfway between.
      expect(autocorrelation(out, a, a), name).toBeGreaterThan(0.4);
      expect(autocorrelation(out, -a, a), name).toBeGreaterThan(0.4);
      expect(autocorrelation(out, a, 0), name).toBeLessThan(0.25);
      expect(autocorrelation(input, a, a), name).toBeLessThan(0.2);
      // Ink (dots, lines, solid shadows) is near-black; the photo's darks are rarer.
      const inkShare = (img: Image) => luma(img).filter((v) => v < 50).length / (img.width * img.height);
      expect(inkShare(out), name).toBeGreaterThan(0.15);
    }
  });

  it('is ink or paper in the mid-tones: dots, not grey', async () => {
    const input = await load('portrait_frontal_1.jpg');
    const out = applyGrade(input, grade('comic'));
    const before = luma(input);
    const after = luma(out);
    // Mid-dark tones of the photo (luma 60..110) become ink dots on bright colour: many pixels go
    // near-black, many bright, few stay in the grey between.
    let n = 0;
    let ink = 0;
    let paper = 0;
    for (let p = 0; p < before.length; p++) {
      if (before[p] < 60 || before[p] > 110) continue;
      n++;
      if (after[p] < 50) ink++;
      else if (after[p] > 120) paper++;
    }
    expect(n).toBeGreaterThan(10_000);
    expect(ink / n).toBeGreaterThan(0.25);
    expect(paper / n).toBeGreaterThan(0.2);
    expect(1 - (ink + paper) / n).toBeLessThan(0.4);
  });
});

describe('clips', () => {
  it('two identical frames give identical output, and a change in one place leaves the rest alone', async () => {
    const first = await load('street_1.jpg', 480);
    // The second frame: the top rows brightened, as when something moves there.
    const second = { ...first, data: first.data.slice() };
    for (let i = 0; i < first.width * 40 * 3; i++) second.data[i] = Math.min(255, second.data[i] * 1.3);
    const original = first.data.slice();
    for (const id of FILTERS) {
      const memory = new LookMemory();
      const a = imageToBytes(applyGrade(first, grade(id), memory));
      expect(Buffer.from(first.data.buffer).equals(Buffer.from(original.buffer)), `${id} leaves its input alone`).toBe(true);
      const kept = { papercut: memory.papercut, comic: memory.comic };
      if (id !== 'nostalgic') expect(kept[id], id).toBeDefined();
      const b = imageToBytes(applyGrade(first, grade(id), memory));
      expect(b.equals(a), id).toBe(true);
      const c = imageToBytes(applyGrade(second, grade(id), memory));
      // Colours picked on the first frame stay (a new palette would repaint every sheet).
      expect(memory.papercut).toBe(kept.papercut);
      expect(memory.comic).toBe(kept.comic);
      // Far below the change (grain, dots and sheets are tied to positions), nothing moves.
      const from = first.width * 200 * 3;
      expect(c.subarray(from).equals(a.subarray(from)), id).toBe(true);
      expect(c.subarray(0, first.width * 20 * 3).equals(a.subarray(0, first.width * 20 * 3)), id).toBe(false);
    }
  });
});

describe('through the image pipeline', () => {
  const animefier = sharedAnimefier();
  afterAll(() => animefier.dispose());

  it('papercut: a valid picture of the input size, with no model stage', async () => {
    const bytes = fixture('street_1.jpg');
    const input = await rawRgb(bytes);
    const result = await animefier.animefy(bytes, { style: 'papercut', mode: 'full', upscale: 1, quality: 'fast', format: 'png' });
    expect(result.mime).toBe('image/png');
    const out = await rawRgb(result.data);
    expect([out.width, out.height]).toEqual([input.width, input.height]);
    expect(result.timings.stylize).toBeUndefined();
    expect(result.timings.grade).toBeGreaterThan(0);
    expect(result.stylizedFaces).toBe(0);
    // Flat sheets: far fewer distinct colours than the photo.
    const distinct = (d: Buffer) => {
      const seen = new Set<number>();
      for (let i = 0; i < d.length; i += 3) seen.add((d[i] >> 3) * 1024 + (d[i + 1] >> 3) * 32 + (d[i + 2] >> 3));
      return seen.size;
    };
    expect(distinct(out.data)).toBeLessThan(distinct(input.data) / 2);
  });

  it('face mode with a filter: the face crop itself, filtered', async () => {
    const result = await animefier.animefy(fixture('portrait_frontal_1.jpg'), { style: 'comic', mode: 'face', upscale: 1, quality: 'fast', format: 'png' });
    const out = await rawRgb(result.data);
    expect([out.width, out.height]).toEqual([512, 512]);
    expect(result.faces).toBe(1);
    expect(result.stylizedFaces).toBe(0);
    expect(result.timings.stylize).toBeUndefined();
    const dark = luma(imageFromBytes(out.data, 512, 512)).filter((v) => v < 50).length / (512 * 512);
    expect(dark).toBeGreaterThan(0.05);
  });
});
