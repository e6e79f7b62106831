/**
 * Sticker: a cut-out cartoon of the person on a transparent background, with a white die-cut outline
 * and a soft drop shadow, ready to send as a chat sticker.
 *
 *   head and shoulders (default): the largest face, an upright aligned crop framed wider and lower
 *     than the avatar's → person mask on the crop (others in the picture cut away along the people
 *     split) → one model pass: the face model, or the scene model for `keep` faces and for a face the
 *     face model leaves blank (face-judge.ts)
 *   body: the largest person's box (YOLOX) with a margin → their mask on it → the scene model, their
 *     faces through the face model (as full mode does)
 *   → colour, grade → silhouette and die-cut (sticker-shape.ts) at the output size → WebP or PNG
 *     within the chat's byte limit
 *
 * The mask on the crop is MediaPipe's selfie model by default (`fast`: ~0.1 s) and ISNet for `high`
 * quality (~2.5 s more on 2 cores, crisper hair but it also takes in salient things beside the
 * person). The canvas's long side is `request.size` (default 512), the other side fits the person.
 */
import sharp from 'sharp';
import { AnimefyError } from '../errors.ts';
import type { ModelRuntime } from '../models/runtime.ts';
import { transferLowFrequencyColour } from './color.ts';
import { resizeBytes, type Decoded } from './decode.ts';
import { FORMAT_MIME } from './encode.ts';
import { cropForFrame, faceFrame, invertAffine, sampleAffine, warpToCrop, type Affine } from './face-align.ts';
import { eyesInCrop, judgeFace } from './face-judge.ts';
import { largestFace, type Face } from './faces.ts';
import { choosePeople, facesOf, findPeople } from './find-people.ts';
import { applyGrade } from './grade.ts';
import { clampRect, cropImage, cropMask, imageToBytes, resizeImage, resizeImageLanczos, resizeMask, type Image, type Mask, type Rect } from './image.ts';
import { DEFAULT_FACE_LOOK } from './modes.ts';
import { DEFAULT_PERSON_CHOICE } from './person-choice.ts';
import { segmentPerson } from './person-mask.ts';
import { facesOwners } from './person-split.ts';
import type { Progress } from './progress.ts';
import { composeLayers, dieCut, distanceTransform, silhouette, type DieCutSpec, type PlaneSize, type Region } from './sticker-shape.ts';
import { DEFAULT_STICKER_SIZE, parseStickerSize } from './sticker-size.ts';
import type { ResolvedStyle } from './styles.ts';
import { runGenerator, stylizeImage } from './stylize.ts';
import { faceBoxes, stylizeFaces, type FaceRenderer } from './stylize-faces.ts';
import type { AnimefyRequest, AnimefyResult } from './types.ts';

/** The finished sticker art (outline and shadow included), RGBA with straight alpha. */
export interface Cutout {
  width: number;
  height: number;
  data: Buffer;
  /** The largest face's box in the cutout's pixels (an axis-aligned box round the upright face). */
  face?: Rect;
}

/** The image pipeline's settings a sticker uses (see PipelineSettings). */
export interface StickerSettings {
  tilePixels: number;
  minFaceSize: number;
}

/** Telegram's limit for a static sticker, and Discord's for a sticker. */
export const STICKER_MAX_BYTES = 512 * 1024;
/** Discord's limit for an emoji. */
export const EMOJI_MAX_BYTES = 256 * 1024;
export const DISCORD_EMOJI_SIDE = 128;

/**
 * Head-and-shoulders framing, relative to the face frame (face-align.ts: FFHQ framing, `half` about
 * two eye distances): the square's half side is `scale` times the face frame's, and its centre is
 * `drop` face-frame halves lower, so hair is in at the top and the shoulders at the bottom.
 */
const HEAD_SHOULDERS = { scale: 1.75, drop: 0.6 };

/** Body: the person's box grown by this share of its long side each way. */
const BODY_MARGIN = 0.06;
/** Body: how far (share of the crop's long side) the outline may reach past the whole-picture mask. */
const BODY_REACH = 0.04;

/** Crop side (FFHQ framing) from which the face model draws eyes and mouth (see stylize-faces.ts). */
const FACE_MODEL_SIDE = 384;

/** Die-cut sizes at a 512 px sticker (they scale with the size). */
const DIE_CUT_512: DieCutSpec = {
  outline: 8,
  rounding: 6,
  inset: 1,
  edge: 2,
  shadow: { dx: 1.5, dy: 3, sigma: 3, opacity: 0.35 },
};

/** The art and the person in it, before the die-cut. */
interface StickerArt {
  art: Image;
  /** Silhouette field at the art's size: ≥ 0.5 on the person. */
  field: Float32Array;
  /** The corners of the largest face's box in art pixels, for `Cutout.face`. */
  faceCorners?: Array<readonly [number, number]>;
  renderers: FaceRenderer[];
  stylized: number;
}

/** The sticker as a result: the file (WebP or PNG), its size, the faces and the timings. */
export async function sticker(
  runtime: ModelRuntime,
  settings: StickerSettings,
  decoded: Decoded,
  faces: Face[],
  style: ResolvedStyle,
  request: AnimefyRequest,
  progress: Progress,
  notes: string[],
): Promise<AnimefyResult> {
  const made = await makeSticker(runtime, settings, decoded, faces, style, request, progress, notes);
  const { cutout } = made;
  // A sticker needs its transparency: JPEG has none.
  const format = request.format === 'webp' ? 'webp' : 'png';
  if (request.format === 'jpeg') notes.push('A sticker needs a transparent background, so it is a PNG.');
  if (request.upscale > 1) notes.push('A sticker is drawn at its own size (no upscale).');
  const limit = format === 'png' && Math.max(cutout.width, cutout.height) <= DISCORD_EMOJI_SIDE ? EMOJI_MAX_BYTES : STICKER_MAX_BYTES;
  const data = await progress.stage('encode', request.signal, () => encodeSticker(cutout, format, limit));
  return {
    data,
    format,
    mime: FORMAT_MIME[format],
    width: cutout.width,
    height: cutout.height,
    style: style.id,
    mode: request.mode,
    operation: 'sticker',
    faces: faces.length,
    stylizedFaces: made.stylized,
    faceBoxes: faceBoxes(faces, made.renderers, decoded.original.width / decoded.image.width),
    timings: progress.finish(),
    notes,
  };
}

/**
 * The finished sticker art at `request.size` (default 512) on its long side: the person cut out,
 * stylized, with the white outline and the shadow. Throws NO_FACE_FOUND (head and shoulders) or
 * NO_PERSON_FOUND (`body`).
 */
export async function stickerCutout(
  runtime: ModelRuntime,
  settings: StickerSettings,
  decoded: Decoded,
  faces: Face[],
  style: ResolvedStyle,
  request: AnimefyRequest,
  progress: Progress,
  notes: string[],
): Promise<Cutout> {
  return (await makeSticker(runtime, settings, decoded, faces, style, request, progress, notes)).cutout;
}

async function makeSticker(
  runtime: ModelRuntime,
  settings: StickerSettings,
  decoded: Decoded,
  faces: Face[],
  style: ResolvedStyle,
  request: AnimefyRequest,
  progress: Progress,
  notes: string[],
): Promise<{ cutout: Cutout; renderers: FaceRenderer[]; stylized: number }> {
  const size = request.size === undefined ? DEFAULT_STICKER_SIZE : parseStickerSize(request.size);
  const made = request.body
    ? await bodyArt(runtime, settings, decoded, faces, style, request, size, progress)
    : await headAndShouldersArt(runtime, decoded, faces, style, request, size, progress, notes);
  const cutout = await progress.stage('compose', request.signal, () => cutOut(made, size));
  return { cutout, renderers: made.renderers, stylized: made.stylized };
}

/** The largest face's head and shoulders, upright, stylized in one pass. */
async function headAndShouldersArt(
  runtime: ModelRuntime,
  decoded: Decoded,
  faces: Face[],
  style: ResolvedStyle,
  request: AnimefyRequest,
  size: number,
  progress: Progress,
  notes: string[],
): Promise<StickerArt> {
  const face = largestFace(faces);
  if (!face) throw new AnimefyError('NO_FACE_FOUND');
  const { signal } = request;
  const photo = decoded.image;
  // `keep` draws with the scene model, as it draws kept faces in a whole picture (and the avatar).
  const faceModel = request.faces === 'keep' ? null : style.faceModel;
  const sceneModel: string | null = style.sceneModel;
  const model = faceModel ?? sceneModel;
  const entry = model ? runtime.entry(model) : undefined;
  // The face model draws eyes and mouth only on faces of about FACE_MODEL_SIDE px in FFHQ framing; the
  // sticker's frame is HEAD_SHOULDERS.scale times wider, so its crop is that much larger.
  const multiple = entry?.multipleOf ?? 8;
  const side = entry?.fixedSize ?? Math.ceil((FACE_MODEL_SIDE * HEAD_SHOULDERS.scale) / multiple) * multiple;
  const base = faceFrame(face, 1);
  const [ax, ay] = base.axis;
  const drop = base.half * HEAD_SHOULDERS.drop;
  const crop = cropForFrame(
    { center: [base.center[0] - ay * drop, base.center[1] + ax * drop], axis: base.axis, half: base.half * HEAD_SHOULDERS.scale },
    side,
  );
  if (crop.sideInImage * (decoded.original.width / photo.width) < size / 3) {
    notes.push('That face is small in the picture, so the sticker comes out soft: a closer photo makes a sharper one.');
  }
  const photoCrop = warpToCrop(photo, crop);
  const soft = await progress.stage('mask', signal, async () => {
    const mask = await segmentPerson(runtime, photoCrop, request.quality);
    // With others in the picture, whoever stands touching the person is cut away along the
    // whole-picture split (people.ts boxes), as in person mode.
    if (faces.length > 1) {
      const found = await findPeople(runtime, photo, { quality: 'fast', faces, signal });
      const mine = facesOwners([face], found.people, found.split)[0];
      if (mine >= 0) dropOthers(mask.data, side, crop.toImage, found.split.owner, photo, mine);
    }
    return mask;
  });
  // Nothing outside the photo is the person: the crop's edges there were only smeared pixels. Nor is
  // what the input itself leaves transparent.
  const inPhoto = photoCoverage(crop.toImage, side, photo);
  const opaque = inputAlpha(decoded);
  const alpha = opaque && sampleAffine(opaque.data, opaque.width, opaque.height, 1, crop.toImage, side, side);
  for (let p = 0; p < soft.data.length; p++) soft.data[p] *= inPhoto[p] * (alpha ? alpha[p] : 1);

  let renderer = 'scene' as FaceRenderer;
  // Each model at `at` px (a fixed-size one at its size), the result back at the crop's size. The
  // scene model needs no more than the sticker's resolution.
  const draw = async (id: string, at: number) => {
    const e = runtime.entry(id);
    const n = e.fixedSize ?? Math.min(side, at);
    const input = n !== side ? resizeImage(photoCrop, n, n) : photoCrop;
    const out = await runGenerator(runtime, id, input, e.multipleOf, e.fixedSize);
    return out.width === side ? out : resizeImageLanczos(out, side, side);
  };
  const sceneSide = Math.min(side, Math.max(256, Math.ceil(size / 8) * 8));
  let styled = await progress.stage('stylize', signal, async () => {
    if (faceModel) {
      const drawn = await draw(faceModel, side);
      // As in a whole picture: a face the face model left blank (turned away, hair over the eyes) is
      // drawn by the scene model instead. The judge looks at the face in its usual framing.
      const judged = cropForFrame(base, FACE_MODEL_SIDE);
      const view = warpToCrop(drawn, { ...judged, toImage: chainAffine(invertAffine(crop.toImage), judged.toImage) });
      if ((await judgeFace(runtime, view, eyesInCrop(face, judged))).ok || !sceneModel) {
        renderer = 'face-model';
        return drawn;
      }
    }
    return sceneModel ? draw(sceneModel, sceneSide) : photoCrop;
  });
  styled = await progress.stage('colour', signal, async () => transferLowFrequencyColour(styled, photoCrop, style.colour));
  styled = await progress.stage('grade', signal, async () => applyGrade(styled, style.grade));

  const toCrop = invertAffine(crop.toImage);
  const corners = boxCorners(face.box).map(([x, y]) => [toCrop.a * x + toCrop.b * y + toCrop.c, toCrop.d * x + toCrop.e * y + toCrop.f] as const);
  const [fx, fy] = centreOf(corners);
  const faceRadius = (0.5 * Math.min(face.box.width, face.box.height)) / (crop.sideInImage / side);
  const planeSize = { width: side, height: side };
  let field = silhouette(soft.data, planeSize, {
    smooth: side / 400,
    // The region holding most of the face: the chosen person.
    keep: (regions, labels) => [mostInDisc(regions, labels, planeSize, fx, fy, faceRadius)].filter((r) => r !== undefined),
  });
  if (!field) {
    notes.push("I couldn't outline the person, so the sticker keeps the picture around them.");
    field = inPhoto;
  }
  return {
    art: styled,
    field,
    faceCorners: corners,
    renderers: faces.map((f) => (f === face ? renderer : 'scene')),
    stylized: renderer === 'face-model' ? 1 : 0,
  };
}

/** The largest person, whole: stylized as full mode would, cut out with their own mask. */
async function bodyArt(
  runtime: ModelRuntime,
  settings: StickerSettings,
  decoded: Decoded,
  faces: Face[],
  style: ResolvedStyle,
  request: AnimefyRequest,
  size: number,
  progress: Progress,
): Promise<StickerArt> {
  const { signal, quality } = request;
  const photo = decoded.image;
  // Who is who comes from the fast mask over the whole picture; the outline from a mask of the
  // person's own box (request.quality), where they are larger and the background simpler.
  const found = await progress.stage('mask', signal, () => findPeople(runtime, photo, { quality: 'fast', faces, signal }));
  if (found.people.length === 0) throw new AnimefyError('NO_PERSON_FOUND');
  const chosen = choosePeople(found, DEFAULT_PERSON_CHOICE);
  const position = chosen.positions[0];
  const person = found.people[position];
  const margin = BODY_MARGIN * Math.max(person.box.width, person.box.height);
  const region = clampRect(
    { x: person.box.x - margin, y: person.box.y - margin, width: person.box.width + 2 * margin, height: person.box.height + 2 * margin },
    photo.width,
    photo.height,
  );
  const subject = cropImage(photo, region);
  // The scene model at a little over the sticker's resolution (more for `high`), never above the photo's.
  const target = Math.round(size * (quality === 'high' ? 2 : 1.3));
  const k = Math.min(1, target / Math.max(region.width, region.height));
  const w = Math.max(1, Math.round(region.width * k));
  const h = Math.max(1, Math.round(region.height * k));
  const small = k < 1 ? resizeImage(subject, w, h) : subject;
  const soft = await progress.stage('mask', signal, () => segmentPerson(runtime, small, quality));
  // The crop's mask is finer, but sees anything in the box (a horse under its rider, the Moon behind
  // a head): it keeps only what lies near the person's part of the whole-picture mask, and nothing
  // the split gives to someone else.
  const core = resizeMask(cropMask(chosen.mask, region), w, h).data;
  const coreSites = new Uint8Array(w * h);
  for (let p = 0; p < coreSites.length; p++) coreSites[p] = core[p] > 0.5 ? 1 : 0;
  const fromCore = distanceTransform(coreSites, w, h);
  const reach = BODY_REACH * Math.max(w, h);
  const opaque = inputAlpha(decoded);
  const alpha = opaque && resizeMask(cropMask(opaque, region), w, h).data;
  const { owner } = found.split;
  for (let y = 0; y < h; y++) {
    const sy = Math.min(photo.height - 1, region.y + Math.floor((y + 0.5) / k));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(photo.width - 1, region.x + Math.floor((x + 0.5) / k));
      const o = owner[sy * photo.width + sx];
      const p = y * w + x;
      soft.data[p] *= o >= 0 && o !== position ? 0 : Math.min(1, Math.max(0, reach - fromCore[p])) * (alpha ? alpha[p] : 1);
    }
  }

  const sceneModel: string | null = style.sceneModel;
  let styled = await progress.stage('stylize', signal, async () =>
    sceneModel
      ? stylizeImage(runtime, sceneModel, small, { tilePixels: settings.tilePixels, signal, onProgress: (f) => progress.report('stylize', f) })
      : small,
  );
  styled = await progress.stage('colour', signal, async () => transferLowFrequencyColour(styled, small, style.colour));

  const theirs = facesOf(found, chosen, faces);
  const renderers: FaceRenderer[] = faces.map(() => 'scene');
  let stylized = 0;
  if (style.faceModel && theirs.length > 0) {
    const faceModel = style.faceModel;
    const blended = await progress.stage('face_stylize', signal, () =>
      stylizeFaces(runtime, subject, styled, theirs.map((f) => shiftFace(f, region)), {
        faceModel,
        look: request.faces ?? DEFAULT_FACE_LOOK,
        maxCropSize: quality === 'fast' ? 384 : 512,
        minFaceSize: settings.minFaceSize,
        personMask: soft,
        signal,
        onProgress: (f) => progress.report('face_stylize', f),
      }),
    );
    styled = blended.image;
    stylized = blended.stylized;
    theirs.forEach((f, i) => (renderers[faces.indexOf(f)] = blended.renderers[i]));
  }
  styled = await progress.stage('grade', signal, async () => applyGrade(styled, style.grade));

  const planeSize = { width: w, height: h };
  const field = silhouette(soft.data, planeSize, {
    smooth: Math.max(w, h) / 500,
    // The regions mostly on the person's own part of the whole-picture mask; specks dropped.
    keep: (regions, labels) => {
      const hits = new Float64Array(regions.length);
      for (let p = 0; p < labels.length; p++) if (labels[p] >= 0 && core[p] > 0.5) hits[labels[p]]++;
      const theirsOnly = regions.filter((r) => hits[r.label] >= 0.3 * r.area);
      const largest = Math.max(0, ...theirsOnly.map((r) => r.area));
      return theirsOnly.filter((r) => r.area >= 0.03 * largest);
    },
  });
  if (!field) throw new AnimefyError('NO_PERSON_FOUND');
  const face = largestFace(theirs);
  const faceCorners = face && boxCorners(face.box).map(([x, y]) => [(x - region.x) * k, (y - region.y) * k] as const);
  return { art: styled, field, faceCorners, renderers, stylized };
}

/** Places the art on the sticker canvas (long side `size`) and draws the die-cut around it. */
async function cutOut(made: StickerArt, size: number): Promise<Cutout> {
  const { art, field } = made;
  const artSize = { width: art.width, height: art.height };
  const bounds = fieldBounds(field, artSize);
  const unit = size / 512;
  const spec: DieCutSpec = {
    outline: DIE_CUT_512.outline * unit,
    rounding: DIE_CUT_512.rounding * unit,
    inset: DIE_CUT_512.inset * unit,
    edge: DIE_CUT_512.edge * unit,
    shadow: {
      dx: DIE_CUT_512.shadow.dx * unit,
      dy: DIE_CUT_512.shadow.dy * unit,
      sigma: DIE_CUT_512.shadow.sigma * unit,
      opacity: DIE_CUT_512.shadow.opacity,
    },
  };
  // Room round the person for the outline and the shadow's offset and blur.
  const pad = Math.ceil(spec.outline + Math.max(Math.abs(spec.shadow.dx), Math.abs(spec.shadow.dy)) + 3 * spec.shadow.sigma + 1);
  // The scale rounded so the art resizes to whole pixels, and whole-pixel offsets: the colours and
  // the silhouette line up exactly.
  const scaledWidth = Math.max(1, Math.round((art.width * Math.max(1, size - 2 * pad)) / Math.max(bounds.width, bounds.height)));
  const k = scaledWidth / art.width;
  const scaledHeight = Math.max(1, Math.round(art.height * k));
  const width = bounds.width >= bounds.height ? size : Math.min(size, Math.round(bounds.width * k) + 2 * pad);
  const height = bounds.height >= bounds.width ? size : Math.min(size, Math.round(bounds.height * k) + 2 * pad);
  // Canvas = art · k + (ox, oy), the person's bounds centred.
  const ox = Math.round((width - bounds.width * k) / 2 - bounds.x * k);
  const oy = Math.round((height - bounds.height * k) / 2 - bounds.y * k);
  const canvas: PlaneSize = { width, height };
  const layers = dieCut(field, artSize, { scale: k, x: ox, y: oy }, canvas, spec);
  const scaled = await resizeBytes(imageToBytes(art), art.width, art.height, 3, scaledWidth, scaledHeight);
  const rgb = Buffer.alloc(width * height * 3);
  const x0 = Math.max(0, ox);
  const x1 = Math.min(width, ox + scaledWidth);
  for (let y = Math.max(0, oy); y < Math.min(height, oy + scaledHeight); y++) {
    const from = ((y - oy) * scaledWidth + (x0 - ox)) * 3;
    scaled.copy(rgb, (y * width + x0) * 3, from, from + (x1 - x0) * 3);
  }
  const data = composeLayers(rgb, layers, canvas, 3 * unit);
  const face = made.faceCorners && boundsOf(made.faceCorners.map(([u, v]) => [u * k + ox, v * k + oy] as const));
  return { width, height, data, ...(face ? { face } : {}) };
}

/**
 * The sticker as a file within `maxBytes`: WebP (lossy, quality lowered step by step until it fits)
 * or PNG (lossless, then a 256-colour palette at falling quality). Throws RESULT_TOO_LARGE when even
 * the smallest does not fit.
 */
export async function encodeSticker(cutout: Cutout, format: 'webp' | 'png', maxBytes: number): Promise<Buffer> {
  const raw = { raw: { width: cutout.width, height: cutout.height, channels: 4 as const } };
  const attempts: Array<() => Promise<Buffer>> =
    format === 'webp'
      ? [92, 85, 75, 65, 50, 35, 20].map((quality) => () => sharp(cutout.data, raw).webp({ quality, alphaQuality: 100, effort: 4 }).toBuffer())
      : [
          () => sharp(cutout.data, raw).png({ compressionLevel: 9, adaptiveFiltering: true }).toBuffer(),
          ...[90, 70, 50].map((quality) => () => sharp(cutout.data, raw).png({ palette: true, quality, compressionLevel: 9 }).toBuffer()),
        ];
  for (const attempt of attempts) {
    const data = await attempt();
    if (data.byteLength <= maxBytes) return data;
  }
  throw new AnimefyError('RESULT_TOO_LARGE', { limit: `${Math.round(maxBytes / 1024)} KB` });
}

/** A Discord emoji from a sticker PNG: 128x128, the sticker centred on transparency, at most 256 KB. */
export async function discordEmojiFromSticker(png: Uint8Array): Promise<Buffer> {
  const side = DISCORD_EMOJI_SIDE;
  const { data } = await sharp(png)
    .ensureAlpha()
    .resize(side, side, { fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 0 }, kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return encodeSticker({ width: side, height: side, data }, 'png', EMOJI_MAX_BYTES);
}

/** Per crop pixel, how much of it lies inside the photo (0..1, a one-pixel ramp at the photo's edge). */
function photoCoverage(toImage: Affine, side: number, photo: PlaneSize): Float32Array {
  const out = new Float32Array(side * side);
  const perPixel = Math.hypot(toImage.a, toImage.d); // image pixels per crop pixel
  for (let v = 0; v < side; v++) {
    for (let u = 0; u < side; u++) {
      const x = toImage.a * (u + 0.5) + toImage.b * (v + 0.5) + toImage.c;
      const y = toImage.d * (u + 0.5) + toImage.e * (v + 0.5) + toImage.f;
      const inside = Math.min(x, photo.width - x, y, photo.height - y) / perPixel;
      out[v * side + u] = inside >= 0.5 ? 1 : inside <= -0.5 ? 0 : inside + 0.5;
    }
  }
  return out;
}

/** The input's own transparency at working size (0..1), when it has any. */
function inputAlpha(decoded: Decoded): Mask | undefined {
  const { original, image } = decoded;
  if (!original.alpha) return undefined;
  const data = new Float32Array(original.alpha.length);
  for (let p = 0; p < data.length; p++) data[p] = original.alpha[p] / 255;
  return resizeMask({ width: original.width, height: original.height, data }, image.width, image.height);
}

/** Zeroes the crop pixels (through `toImage`) that the whole-picture split gives to another person. */
function dropOthers(mask: Float32Array, side: number, toImage: Affine, owner: Int16Array, photo: PlaneSize, mine: number): void {
  for (let v = 0; v < side; v++) {
    for (let u = 0; u < side; u++) {
      const x = Math.floor(toImage.a * (u + 0.5) + toImage.b * (v + 0.5) + toImage.c);
      const y = Math.floor(toImage.d * (u + 0.5) + toImage.e * (v + 0.5) + toImage.f);
      if (x < 0 || y < 0 || x >= photo.width || y >= photo.height) continue;
      const o = owner[y * photo.width + x];
      if (o >= 0 && o !== mine) mask[v * side + u] = 0;
    }
  }
}

/** The region with the most pixels within `radius` of (cx, cy), or undefined when none reaches it. */
function mostInDisc(regions: Region[], labels: Int32Array, size: PlaneSize, cx: number, cy: number, radius: number): Region | undefined {
  const counts = new Float64Array(regions.length);
  const x0 = Math.max(0, Math.floor(cx - radius));
  const x1 = Math.min(size.width - 1, Math.ceil(cx + radius));
  const y0 = Math.max(0, Math.floor(cy - radius));
  const y1 = Math.min(size.height - 1, Math.ceil(cy + radius));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 > radius * radius) continue;
      const l = labels[y * size.width + x];
      if (l >= 0) counts[l]++;
    }
  }
  let best = -1;
  for (let i = 0; i < counts.length; i++) if (counts[i] > 0 && (best < 0 || counts[i] > counts[best])) best = i;
  return best < 0 ? undefined : regions[best];
}

/** Bounds of the field's inside (≥ 0.5); the whole plane when it is empty. */
function fieldBounds(field: Float32Array, size: PlaneSize): Rect {
  let x0 = size.width;
  let y0 = size.height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < size.height; y++) {
    for (let x = 0; x < size.width; x++) {
      if (field[y * size.width + x] < 0.5) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      y1 = y;
    }
  }
  if (x1 < 0) return { x: 0, y: 0, width: size.width, height: size.height };
  return { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

function boxCorners(box: Rect): Array<readonly [number, number]> {
  const { x, y, width, height } = box;
  return [
    [x, y],
    [x + width, y],
    [x, y + height],
    [x + width, y + height],
  ];
}

function centreOf(points: Array<readonly [number, number]>): [number, number] {
  let x = 0;
  let y = 0;
  for (const [px, py] of points) {
    x += px;
    y += py;
  }
  return [x / points.length, y / points.length];
}

function boundsOf(points: Array<readonly [number, number]>): Rect {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y };
}

/** outer ∘ inner: first `inner`, then `outer`. */
function chainAffine(outer: Affine, inner: Affine): Affine {
  return {
    a: outer.a * inner.a + outer.b * inner.d,
    b: outer.a * inner.b + outer.b * inner.e,
    c: outer.a * inner.c + outer.b * inner.f + outer.c,
    d: outer.d * inner.a + outer.e * inner.d,
    e: outer.d * inner.b + outer.e * inner.e,
    f: outer.d * inner.c + outer.e * inner.f + outer.f,
  };
}

/** A face moved into a crop's coordinates. */
function shiftFace(face: Face, region: Rect): Face {
  return {
    box: { ...face.box, x: face.box.x - region.x, y: face.box.y - region.y },
    score: face.score,
    landmarks: face.landmarks.map(([x, y]) => [x - region.x, y - region.y] as const) as Face['landmarks'],
  };
}
