/**
 * Smile (smile.ts): a landmark-driven thin-plate-spline warp. Measured with PFLD on the output: the
 * mouth corners rise against the eye line; nothing outside the face moves; turned faces and hidden
 * mouths are refused or skipped; clips hold the smile still.
 */
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage } from '#src/pipeline/decode.ts';
import { landmarksForFace } from '#src/pipeline/face-landmarks.ts';
import { detectFaces, type Face, type Point } from '#src/pipeline/faces.ts';
import { imageFromBytes, resizeImage, type Image, type Rect } from '#src/pipeline/image.ts';
import { planStages } from '#src/pipeline/image-pipeline.ts';
import { DEFAULT_SMILE_AMOUNT } from '#src/pipeline/modes.ts';
import {
  chooseSmilers,
  detectorYaw,
  headYaw,
  MAX_SMILE_YAW,
  mouthContrast,
  MIN_MOUTH_CONTRAST,
  OneEuroFilter,
  SmileClip,
  smileCandidates,
  smileHandles,
  smileImage,
  SmileWarp,
  warpSmile,
  type SmileCandidate,
} from '#src/pipeline/smile.ts';
import type { AnimefyRequest } from '#src/pipeline/types.ts';
import { rejection } from '../helpers/errors.ts';
import { fixture, rawRgb, sharedAnimefier } from '../helpers/fixtures.ts';
import { seededRandom } from '../helpers/random.ts';

const animefier = sharedAnimefier();
const runtime = animefier.runtime;
const limits = { maxInputBytes: 50 * 1024 * 1024, maxInputPixels: 40_000_000, workingSize: 1280 };
const PORTRAITS = ['portrait_frontal_1.jpg', 'portrait_frontal_2.jpg', 'portrait_glasses_1.jpg'] as const;

afterAll(async () => {
  await animefier.dispose();
});

async function load(name: string): Promise<Image> {
  return (await decodeImage(fixture(name), limits)).image;
}

/**
 * Mean height of the two mouth corners (48, 54) above the eye line (through the eye centres, each the
 * mean of its corners 36/39 and 42/45, which the smile leaves in place), over `faceHeight`.
 */
function cornerHeight(points: readonly Point[], faceHeight: number): number {
  const r = [(points[36][0] + points[39][0]) / 2, (points[36][1] + points[39][1]) / 2];
  const l = [(points[42][0] + points[45][0]) / 2, (points[42][1] + points[45][1]) / 2];
  const eyeLineY = (x: number): number => r[1] + ((l[1] - r[1]) * (x - r[0])) / (l[0] - r[0]);
  const above = (i: number): number => eyeLineY(points[i][0]) - points[i][1];
  return (above(48) + above(54)) / 2 / faceHeight;
}

/** The corner lift PFLD sees on `output` against `input`, as a share of the detector box's height. */
async function cornerLift(input: Image, output: Image, face: Face): Promise<number> {
  const before = await landmarksForFace(runtime, input, face);
  const after = await landmarksForFace(runtime, output, face);
  return cornerHeight(after, face.box.height) - cornerHeight(before, face.box.height);
}

function inside(r: Rect, x: number, y: number): boolean {
  return x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
}

/** Mean |a − b| over the pixels where `where(x, y)` holds (any channel layout of 3). */
function meanDiffWhere(a: ArrayLike<number>, b: ArrayLike<number>, width: number, height: number, where: (x: number, y: number) => boolean): number {
  let sum = 0;
  let n = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!where(x, y)) continue;
      const i = (y * width + x) * 3;
      sum += Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]);
      n += 3;
    }
  }
  return sum / n;
}

/** The lowest Jacobian determinant of a warp's inverse map over its grid cells (≤ 0: folded). */
function minJacobian(warp: SmileWarp, width: number, height: number): number {
  const g = warp.grid(width, height);
  let min = Infinity;
  for (let r = 0; r < g.rows - 1; r++) {
    for (let c = 0; c < g.cols - 1; c++) {
      const i = r * g.cols + c;
      const a = 1 + (g.dx[i + 1] - g.dx[i]) / g.step;
      const b = (g.dx[i + g.cols] - g.dx[i]) / g.step;
      const d = (g.dy[i + 1] - g.dy[i]) / g.step;
      const e = 1 + (g.dy[i + g.cols] - g.dy[i]) / g.step;
      min = Math.min(min, a * e - b * d);
    }
  }
  return min;
}

describe('smile on the frontal portraits', () => {
  for (const name of PORTRAITS) {
    it(`${name}: the mouth corners rise by at least 2% of the face height at the default amount, and nothing outside the face moves`, async () => {
      const image = await load(name);
      const faces = await detectFaces(runtime, image);
      expect(faces).toHaveLength(1);
      const [face] = faces;
      const notes: string[] = [];
      const { image: out, smiled } = await smileImage(runtime, image, faces, DEFAULT_SMILE_AMOUNT, notes);
      expect(smiled).toBe(1);
      expect(notes).toEqual([]);

      const lift = await cornerLift(image, out, face);
      const outside = meanDiffWhere(image.data, out.data, image.width, image.height, (x, y) => !inside(face.box, x, y));
      console.log(`${name}: corner lift ${(lift * 100).toFixed(2)}% of the face height, mean change outside the face box ${outside.toFixed(4)}`);
      expect(lift).toBeGreaterThanOrEqual(0.02);
      expect(outside).toBeLessThan(1);

      // Beyond the warp's area every pixel keeps its exact value; inside it the mouth changed.
      const [candidate] = await smileCandidates(runtime, image, faces);
      const area = smileHandles(candidate.points, face.box, DEFAULT_SMILE_AMOUNT).area;
      let changedOutside = 0;
      for (let y = 0; y < image.height; y++) {
        for (let x = 0; x < image.width; x++) {
          if (inside(area, x, y)) continue;
          const i = (y * image.width + x) * 3;
          if (out.data[i] !== image.data[i] || out.data[i + 1] !== image.data[i + 1] || out.data[i + 2] !== image.data[i + 2]) changedOutside++;
        }
      }
      expect(changedOutside).toBe(0);
      const p = candidate.points;
      const mouth: Rect = { x: p[48][0], y: Math.min(p[50][1], p[52][1]) - 0.1 * face.box.height, width: p[54][0] - p[48][0], height: 0.25 * face.box.height };
      expect(meanDiffWhere(image.data, out.data, image.width, image.height, (x, y) => inside(mouth, x, y))).toBeGreaterThan(3);
    });
  }

  it('smiles more with a larger amount, not at all at 0, and never folds the picture even at 1', async () => {
    const image = await load('portrait_glasses_1.jpg');
    const faces = await detectFaces(runtime, image);
    const lifts: number[] = [];
    for (const amount of [0.3, 0.6, 1]) {
      const { image: out } = await smileImage(runtime, image, faces, amount, []);
      lifts.push(await cornerLift(image, out, faces[0]));
    }
    expect(lifts[0]).toBeGreaterThan(0.005);
    expect(lifts[1]).toBeGreaterThan(lifts[0]);
    expect(lifts[2]).toBeGreaterThan(lifts[1]);
    const { image: same } = await smileImage(runtime, image, faces, 0, []);
    expect(same.data).toEqual(image.data);
    for (const name of PORTRAITS) {
      const photo = await load(name);
      const [c] = await smileCandidates(runtime, photo, await detectFaces(runtime, photo));
      // The inverse map stays one-to-one: cells may shrink or grow, never turn over.
      expect(minJacobian(new SmileWarp(smileHandles(c.points, c.face.box, 1)), photo.width, photo.height), name).toBeGreaterThan(0.3);
    }
  });

  it('smiles every face of the three-person group (all within 30° of the camera)', async () => {
    const image = await load('group_3faces.jpg');
    const faces = await detectFaces(runtime, image);
    expect(faces).toHaveLength(3);
    const candidates = await smileCandidates(runtime, image, faces);
    for (const c of candidates) expect(Math.abs(c.yaw)).toBeLessThan(MAX_SMILE_YAW);
    const notes: string[] = [];
    const { image: out, smiled } = await smileImage(runtime, image, faces, DEFAULT_SMILE_AMOUNT, notes);
    expect(smiled).toBe(3);
    expect(notes).toEqual([]);
    for (const f of faces) expect(await cornerLift(image, out, f)).toBeGreaterThan(0.01);
  });
});

describe('faces that cannot smile', () => {
  it('refuses the three-quarter portrait (measured yaw beyond 30°)', async () => {
    const image = await load('portrait_3quarter_1.jpg');
    const faces = await detectFaces(runtime, image);
    expect(faces).toHaveLength(1);
    const points = await landmarksForFace(runtime, image, faces[0]);
    // PFLD's points read about 35° (they drift towards a frontal face), the detector's about 55°.
    const yaw = Math.max(Math.abs(headYaw(points)), Math.abs(detectorYaw(faces[0])));
    console.log(`three-quarter portrait: yaw ${headYaw(points).toFixed(1)}° from PFLD, ${detectorYaw(faces[0]).toFixed(1)}° from the detector`);
    expect(yaw).toBeGreaterThan(MAX_SMILE_YAW + 10);
    for (const f of await smileCandidates(runtime, await load('portrait_frontal_1.jpg'), await detectFaces(runtime, await load('portrait_frontal_1.jpg')))) {
      expect(Math.abs(f.yaw)).toBeLessThan(10);
    }
    expect((await rejection(smileImage(runtime, image, faces, DEFAULT_SMILE_AMOUNT, []))).code).toBe('FACE_NOT_FRONTAL');
  });

  it('says there is no face when there is none', async () => {
    expect((await rejection(smileImage(runtime, await load('portrait_frontal_1.jpg'), [], 0.6, []))).code).toBe('NO_FACE_FOUND');
  });

  it('refuses a mouth hidden under a plain cover (PFLD still draws a mouth there)', async () => {
    const image = await load('portrait_glasses_1.jpg');
    const faces = await detectFaces(runtime, image);
    const [c] = await smileCandidates(runtime, image, faces);
    expect(mouthContrast(image, c.points)).toBeGreaterThan(2 * MIN_MOUTH_CONTRAST);
    const covered = { ...image, data: image.data.slice() };
    const p = c.points;
    const w = p[54][0] - p[48][0];
    for (let y = Math.floor(p[51][1] - 0.4 * w); y < p[57][1] + 0.6 * w; y++) {
      for (let x = Math.floor(p[48][0] - 0.3 * w); x < p[54][0] + 0.3 * w; x++) covered.data.set([200, 150, 120], (y * image.width + x) * 3);
    }
    const coveredFaces = await detectFaces(runtime, covered);
    expect(coveredFaces).toHaveLength(1);
    const [hidden] = await smileCandidates(runtime, covered, coveredFaces);
    expect(hidden.verdict).toBe('mouth');
    expect((await rejection(smileImage(runtime, covered, coveredFaces, 0.6, []))).code).toBe('FACE_NOT_FRONTAL');
  });

  it('skips a turned face in a group with a note, refuses when the turned face is the main one', () => {
    const face = (x: number, side: number): Face => ({
      box: { x, y: 0, width: side, height: side },
      score: 0.9,
      landmarks: [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0]],
    });
    const cand = (f: Face, verdict: SmileCandidate['verdict']): SmileCandidate => ({ face: f, points: [], verdict, yaw: 0 });
    const notes: string[] = [];
    const group = [cand(face(0, 100), 'ok'), cand(face(200, 90), 'turned'), cand(face(400, 95), 'ok'), cand(face(600, 10), 'small')];
    expect(chooseSmilers(group, notes).map((c) => c.face.box.x)).toEqual([0, 400]);
    expect(notes).toEqual(['1 face turned away from the camera was left as it was.']);
    // A turned face about as large as the others is skipped; one clearly the largest refuses the photo.
    expect(chooseSmilers([cand(face(0, 110), 'turned'), cand(face(200, 100), 'ok')], []).map((c) => c.face.box.x)).toEqual([200]);
    expect(() => chooseSmilers([cand(face(0, 200), 'turned'), cand(face(300, 100), 'ok')], [])).toThrow(expect.objectContaining({ code: 'FACE_NOT_FRONTAL' }));
    expect(() => chooseSmilers([cand(face(0, 100), 'mouth')], [])).toThrow(expect.objectContaining({ code: 'FACE_NOT_FRONTAL' }));
    expect(() => chooseSmilers([cand(face(0, 10), 'small')], [])).toThrow(expect.objectContaining({ code: 'NO_FACE_FOUND' }));
  });
});

describe('the image pipeline', () => {
  const base: AnimefyRequest = { style: 'hayao', mode: 'full', upscale: 1, quality: 'fast', format: 'png' };

  it('`smile` returns the real photo at its own size, smiling, and the photo elsewhere', async () => {
    const input = fixture('portrait_glasses_1.jpg');
    const result = await animefier.animefy(input, { ...base, operation: 'smile' });
    expect(result).toMatchObject({ operation: 'smile', faces: 1, stylizedFaces: 0 });
    expect(result.faceBoxes).toHaveLength(1);
    expect(result.timings.smile).toBeGreaterThan(0);
    const photo = await rawRgb(input);
    const out = await rawRgb(result.data);
    expect([out.width, out.height]).toEqual([photo.width, photo.height]);
    const b = result.faceBoxes[0];
    const box: Rect = { x: b.x, y: b.y, width: b.w, height: b.h };
    expect(meanDiffWhere(photo.data, out.data, out.width, out.height, (x, y) => !inside(box, x, y))).toBeLessThan(0.05);
    const lower: Rect = { x: b.x + 0.2 * b.w, y: b.y + 0.6 * b.h, width: 0.6 * b.w, height: 0.3 * b.h };
    expect(meanDiffWhere(photo.data, out.data, out.width, out.height, (x, y) => inside(lower, x, y))).toBeGreaterThan(2);
    expect(planStages('full', 1, animefier.style('hayao'), 'smile')).toEqual(['decode', 'faces', 'compose', 'encode']);
  });

  it('`smile` refuses a turned face and a picture with no face', async () => {
    expect((await rejection(animefier.animefy(fixture('portrait_3quarter_1.jpg'), { ...base, operation: 'smile' }))).code).toBe('FACE_NOT_FRONTAL');
    expect((await rejection(animefier.animefy(fixture('landscape_1.jpg'), { ...base, operation: 'smile' }))).code).toBe('NO_FACE_FOUND');
  });

  it('`animefy` with `smile` stylizes the smiling photo: the result changes at the mouth, hardly elsewhere', async () => {
    const input = fixture('portrait_glasses_1.jpg');
    const plain = await animefier.animefy(input, base);
    const smiling = await animefier.animefy(input, { ...base, smile: 0.8 });
    expect(plain.timings.smile).toBeUndefined();
    expect(smiling.timings.smile).toBeGreaterThan(0);
    expect(smiling.faces).toBe(1);
    const a = await rawRgb(plain.data);
    const b = await rawRgb(smiling.data);
    const f = smiling.faceBoxes[0];
    const box: Rect = { x: f.x, y: f.y, width: f.w, height: f.h };
    const mouth: Rect = { x: f.x + 0.2 * f.w, y: f.y + 0.6 * f.h, width: 0.6 * f.w, height: 0.3 * f.h };
    const atMouth = meanDiffWhere(a.data, b.data, a.width, a.height, (x, y) => inside(mouth, x, y));
    const away = meanDiffWhere(a.data, b.data, a.width, a.height, (x, y) => !inside(box, x, y));
    console.log(`animefy with a smile: change at the mouth ${atMouth.toFixed(2)}, outside the face ${away.toFixed(3)}`);
    expect(atMouth).toBeGreaterThan(5 * Math.max(away, 0.2));
    // Background mode stylizes no face but still smiles the real one: faces are found for it.
    const stages = planStages('background', 1, animefier.style('hayao'), 'animefy', true);
    expect(stages).toContain('faces');
    expect(stages).not.toContain('face_stylize');
  });
});

describe('clips', () => {
  it('the One Euro filter steadies a still value and follows a moving one', () => {
    const rnd = seededRandom(3);
    const still = new OneEuroFilter(0.08, 4);
    let rawSteps = 0;
    let steps = 0;
    let prevRaw = 0;
    let prev = 0;
    for (let t = 0; t < 60; t++) {
      const raw = 100 + (rnd() - 0.5) * 2;
      const [v] = still.filter([raw], t, 100);
      if (t > 5) {
        rawSteps += Math.abs(raw - prevRaw);
        steps += Math.abs(v - prev);
      }
      prevRaw = raw;
      prev = v;
    }
    expect(steps).toBeLessThan(0.4 * rawSteps);
    const moving = new OneEuroFilter(0.08, 4);
    let last = 0;
    for (let t = 0; t < 30; t++) [last] = moving.filter([t * 10], t, 100);
    expect(Math.abs(last - 290)).toBeLessThan(15);
  });

  it('a still face smiles exactly as a photo does, and PFLD jitter is smoothed away', async () => {
    // At GIF size: the frames are made pixel by pixel below.
    const full = await load('portrait_glasses_1.jpg');
    const base = resizeImage(full, Math.round(full.width / 2), Math.round(full.height / 2));
    const faces = await detectFaces(runtime, base);
    const clip = new SmileClip(runtime, { amount: 0.6 });
    const points = await landmarksForFace(runtime, base, faces[0]);
    const still = { ...base, data: base.data.slice() };
    warpSmile(still, points, faces[0].box, 0.6);
    for (let i = 0; i < 3; i++) expect((await clip.frame(base, faces, i)).data).toEqual(still.data);

    // Frames with noise and sub-pixel shake: PFLD's corners jump about; the clip's hardly move.
    const rnd = seededRandom(7);
    const jittery = new SmileClip(runtime, { amount: 0.6 });
    let rawStep = 0;
    let smoothStep = 0;
    let prevRaw: Point[] | undefined;
    let prevSmooth: Point[] | undefined;
    const frames = 10;
    for (let i = 0; i < frames; i++) {
      const dx = rnd() - 0.5;
      const dy = rnd() - 0.5;
      const frame = { ...base, data: new Float32Array(base.data.length) };
      for (let y = 0; y < base.height; y++) {
        for (let x = 0; x < base.width; x++) {
          const sx = Math.min(base.width - 1, Math.max(0, Math.round(x + dx)));
          const sy = Math.min(base.height - 1, Math.max(0, Math.round(y + dy)));
          for (let k = 0; k < 3; k++) frame.data[(y * base.width + x) * 3 + k] = base.data[(sy * base.width + sx) * 3 + k] + (rnd() - 0.5) * 12;
        }
      }
      const found = await detectFaces(runtime, frame);
      await jittery.frame(frame, found, i);
      const raw = await landmarksForFace(runtime, frame, found[0]);
      const smooth = jittery.lastPoints[0]!;
      const step = (a: readonly Point[], b: readonly Point[]): number => Math.hypot(a[48][0] - b[48][0], a[48][1] - b[48][1]) + Math.hypot(a[54][0] - b[54][0], a[54][1] - b[54][1]);
      if (i >= 3 && prevRaw && prevSmooth) {
        rawStep += step(raw, prevRaw);
        smoothStep += step(smooth, prevSmooth);
      }
      prevRaw = raw;
      prevSmooth = smooth;
    }
    console.log(`clip corner movement per frame: raw ${(rawStep / (frames - 3)).toFixed(2)} px, smoothed ${(smoothStep / (frames - 3)).toFixed(2)} px`);
    expect(smoothStep).toBeLessThan(0.5 * rawStep);
  });

  it('leaves the turned face of face_clip.gif as it is, with one note', async () => {
    const { data, info } = await sharp(fixture('face_clip.gif'), { pages: 6 }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const height = info.pageHeight ?? info.height;
    const notes: string[] = [];
    const clip = new SmileClip(runtime, { notes });
    let faces = 0;
    for (let i = 0; i < 6; i++) {
      const frame = imageFromBytes(data.subarray(i * info.width * height * 3, (i + 1) * info.width * height * 3), info.width, height);
      const found = await detectFaces(runtime, frame);
      faces += found.length;
      expect((await clip.frame(frame, found, i)).data).toEqual(frame.data);
    }
    expect(faces).toBeGreaterThan(0);
    expect(notes).toHaveLength(1);
  });
});
