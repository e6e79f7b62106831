/**
 * Inpainting: fill a hole (a removed person) from the rest of the picture.
 *
 * No learned inpainter can be had here, so this is a classical one, kept behind the single
 * `inpaint(image, mask)` function so a learned model (LaMa etc.) can replace it later.
 *
 * - Thin holes (every hole pixel within `THIN_HOLE_PX` of a known one): membrane (Laplace) diffusion
 *   at full resolution. Across a few pixels a smooth fill is invisible and patches would be wasted.
 * - Everything else: patch-based synthesis in the style of Wexler, Shechtman & Irani, "Space-Time
 *   Completion of Video" (PAMI 2007), with the nearest-neighbour field found by PatchMatch (Barnes et
 *   al., SIGGRAPH 2009):
 *   1. crop the hole's bounding box plus a margin of the hole's size (the context patches come from),
 *      downscaled so its long side is at most `WORK_SIZE`;
 *   2. build a pyramid; at the coarsest level fill the hole from its edge inwards, pixel by pixel,
 *      from the best-matching known patches (onion peel), which also seeds the field;
 *   3. per level, a few EM iterations: PatchMatch (propagation + random search) from every patch
 *      touching the hole to patches lying entirely in known pixels, then each hole pixel becomes the
 *      weighted average of what the overlapping source patches say it is (voting). Patches carry
 *      two texture features besides colour, so smooth patches cannot stand in for textured ones;
 *   4. the field is upsampled to seed the next finer level;
 *   5. the finest field is carried to the crop's full resolution and voted there from the original
 *      known pixels (the upscale step), so the fill has the photo's own sharpness instead of a 2×
 *      bilinear blur;
 *   6. the fill's tone is matched to the pixels around the hole (a membrane of the local offsets
 *      along its edge), so a patch copied from a brighter part of a wall leaves no outline;
 *   7. pasted back only inside the hole, feathered over its outermost `FEATHER_PX` pixels: callers
 *      should dilate a person's mask by a few pixels so that band holds background, not the person.
 *
 * Everything is deterministic (fixed seed), so the same input always gives the same fill. Cancelling
 * (`signal`) is checked between pyramid levels.
 */
import { throwIfCancelled } from '../errors.ts';
import { assertSameSize, boundsWhere, boxSum, clampRect, cropImage, pasteImage, resizeImage, resizeMask, summedArea } from './image.ts';
import type { Image, Mask, Rect } from './image.ts';

/** Patch radius: 7×7 patches, the usual size for natural-image completion at ≤ 512 px. */
const PATCH_RADIUS = 3;
/** Long side of the crop the synthesis works on; larger costs quadratically more time. */
const WORK_SIZE = 512;
/**
 * Most hole pixels at working size (a person covering a quarter of a 512 × 384 crop is about 50k):
 * bigger holes are worked on smaller, which bounds the time.
 */
const WORK_HOLE_PIXELS = 60_000;
/**
 * The pyramid stops halving once the level's long side would drop under this, so the coarsest level
 * is 80–160 px (128 for a full 512 px work crop). Measured on the fixtures: a 32 px coarsest level
 * closes a person-sized hole with smooth blobs, 64 px with a smooth column of wall colour, 128 px
 * carries chair rows, window frames and floor texture across it.
 */
const COARSEST_SIZE = 80;
/** Holes whose deepest pixel is at most this far (px) from a known one get the diffusion fill. */
const THIN_HOLE_PX = 3;
/** Width (px) of the ramp over the hole's outermost pixels where the fill blends into the original. */
const FEATHER_PX = 2;
/** Fewest valid source patches a pyramid level needs to be worth synthesising on. */
const MIN_SOURCES = 64;
/** Values per pixel in the synthesis: RGB, then the two texture features. */
const CHANNELS = 5;
/**
 * Scale of the texture features against colour in the patch distance. Mean absolute gradients are a
 * few levels where colour differences are tens, so they need weight to count (tuned on the fixtures).
 */
const TEXTURE_WEIGHT = 2;
/** Over-relaxation factor of the membrane sweeps (1 = Gauss-Seidel; < 2 for convergence). */
const SOR = 1.8;
/** Relaxation sweeps of the seam-matching membrane (after its push-pull start). */
const MATCH_SWEEPS = 12;
/** Largest tone offset (levels, any channel) the seam matching corrects; larger ones are content edges. */
const MATCH_LIMIT = 32;
/**
 * Base γ of the vote confidence γ^−depth (Wexler et al.): how much less a patch centred one pixel
 * deeper in the hole counts. Mild, so deep pixels still average enough votes to stay coherent.
 */
const CONFIDENCE_BASE = 1.1;
/**
 * Most hole pixels the onion peel takes on. Only a hole that leaves too little known context for a
 * pyramid (so the peel would run on the full working level) exceeds it; that rare case starts from
 * the field's vote instead of paying seconds for the peel.
 */
const PEEL_MAX_PIXELS = 16_000;
/** Random sources the onion peel tries per pixel (besides coherent shifts and a local search). */
const PEEL_RANDOM = 100;
/**
 * Random search on levels seeded from a coarser one starts at this fraction of the level's size: the
 * seed already has the layout, and the widest windows almost never win there (measured: same fills,
 * about 20% less time). The coarsest level searches the whole level.
 */
const SEEDED_SEARCH_FRACTION = 0.25;

/** Fills the hole (mask > 0.5) from the rest of the picture; pixels outside the hole are returned unchanged. */
export async function inpaint(image: Image, mask: Mask, options?: { signal?: AbortSignal }): Promise<Image> {
  const signal = options?.signal;
  throwIfCancelled(signal);
  assertSameSize(image, mask);
  const { width, height } = image;
  const hole = new Uint8Array(width * height);
  for (let i = 0; i < hole.length; i++) hole[i] = mask.data[i] > 0.5 ? 1 : 0;
  const out: Image = { width, height, data: image.data.slice() };
  const box = holeBounds(hole, width, height);
  if (!box) return out;
  // No known pixel at all: nothing to fill from.
  if (box.width === width && box.height === height && countHole(hole) === hole.length) return out;

  const depth = distanceToKnown(hole, width, height);
  let maxDepth = 0;
  for (let i = 0; i < depth.length; i++) if (depth[i] > maxDepth) maxDepth = depth[i];

  const fill = maxDepth <= THIN_HOLE_PX ? thinFill(image, hole, box) : await patchFill(image, hole, box, signal);
  pasteFeathered(out, fill.image, fill.rect, hole, depth);
  return out;
}

/**
 * Membrane (harmonic) diffusion fill: `inpaint`'s fill for thin holes, exported for callers that want
 * the smooth fill on its own and for the tests, which compare the patch fill with it. Fills the
 * `hole` pixels of the interleaved RGB `data` in place.
 */
export function diffusionFill(data: Float32Array, width: number, height: number, hole: Uint8Array): void {
  const known = new Uint8Array(hole.length);
  for (let i = 0; i < hole.length; i++) known[i] = hole[i] ? 0 : 1;
  pushPullFill(data, width, height, hole, known);
  // Push-pull is smooth but not harmonic; relaxation sweeps bring it to the membrane. Deep holes
  // converge slowly, but push-pull already put the low frequencies in place, so a bounded number of
  // sweeps suffices: about 4 per pixel of depth, at most 200, and at most ~20M pixel updates in all
  // (a hole of a megapixel gets 20 sweeps rather than seconds of them).
  const depth = distanceToKnown(hole, width, height);
  let maxDepth = 0;
  for (let i = 0; i < depth.length; i++) if (depth[i] > maxDepth) maxDepth = depth[i];
  const pixels = holePixels(hole);
  const sweeps = Math.max(8, Math.min(200, Math.ceil(8 + 4 * maxDepth), Math.floor(20_000_000 / Math.max(1, pixels.length))));
  relax(data, width, height, pixels, sweeps);
}

// ---------------------------------------------------------------------------------------------
// The two fills

interface Fill {
  /** The filled crop, the size of `rect`. */
  image: Image;
  rect: Rect;
}

/** Diffusion on a small crop around a thin hole: only a few pixels of context matter to it. */
function thinFill(image: Image, hole: Uint8Array, box: Rect): Fill {
  const margin = 2 * THIN_HOLE_PX + 2;
  const rect = clampRect({ x: box.x - margin, y: box.y - margin, width: box.width + 2 * margin, height: box.height + 2 * margin }, image.width, image.height);
  const crop = cropImage(image, rect);
  const cropHole = cropPlane(hole, image.width, rect);
  diffusionFill(crop.data, rect.width, rect.height, cropHole);
  return { image: crop, rect };
}

/** Multi-scale patch synthesis on a downscaled crop, then carried back to full resolution. */
async function patchFill(image: Image, hole: Uint8Array, box: Rect, signal: AbortSignal | undefined): Promise<Fill> {
  // Context margin of the hole's size on each side: a person-sized hole needs a wide view of the
  // scene to find matching texture, and more does not help much but costs time.
  const margin = Math.max(box.width, box.height);
  const rect = clampRect({ x: box.x - margin, y: box.y - margin, width: box.width + 2 * margin, height: box.height + 2 * margin }, image.width, image.height);
  const crop = cropImage(image, rect);
  const cropHole = cropPlane(hole, image.width, rect);
  // At most WORK_SIZE on the long side, and at most WORK_HOLE_PIXELS hole pixels at working size: the
  // time grows with the hole's area, and a hole that covers most of the picture has little to copy
  // from anyway, so it is synthesised coarser rather than for many seconds.
  const holeArea = countHole(cropHole);
  const scale = Math.min(1, WORK_SIZE / Math.max(rect.width, rect.height), Math.sqrt(WORK_HOLE_PIXELS / Math.max(1, holeArea)));
  const ww = Math.max(1, Math.round(rect.width * scale));
  const wh = Math.max(1, Math.round(rect.height * scale));
  const work = workLevel(crop, cropHole, ww, wh);

  const rng = new Random(0x9e3779b9);
  const result = await synthesize(work, rng, signal);
  throwIfCancelled(signal);
  if (!result) {
    // Too little known context for patches (a hole that nearly fills its crop): smooth fill.
    diffusionFill(crop.data, rect.width, rect.height, cropHole);
    return { image: crop, rect };
  }
  const filled = rgbOf(result.level);
  voteFullResolution(crop, cropHole, resizeImage(filled, rect.width, rect.height), result);
  matchBoundaryAround(crop, cropHole);
  return { image: crop, rect };
}

// ---------------------------------------------------------------------------------------------
// Pyramid and synthesis

interface Level {
  width: number;
  height: number;
  /** Interleaved RGB + two texture features (`CHANNELS`); hole pixels hold the current estimate. */
  data: Float32Array;
  /** 1 where the pixel is unknown (to be synthesised). */
  hole: Uint8Array;
}

/** Where the patches of one level may come from and which patches must be matched. */
interface Domain {
  /** Centres of the patches that overlap the hole (fully inside the level), raster order. */
  targets: Int32Array;
  /** 1 where a centre's whole patch is known and inside the level: a valid source. */
  sourceOk: Uint8Array;
  /** The valid source centres, for random picks. */
  sources: Int32Array;
  /** Per pixel, how much its patch's vote is trusted: 1 on known pixels, falling with depth in the hole. */
  confidence: Float32Array;
}

interface Synthesis {
  level: Level;
  domain: Domain;
  /** Source centre per target centre (−1 elsewhere). */
  field: Int32Array;
  /** Per-target weight of the last vote. */
  weights: Float32Array;
}

/**
 * The crop at working size with its hole. Downscaling mixes the removed person's colours into the
 * pixels around the hole, so any work pixel the hole touches counts as hole, and the hole grows by one
 * more pixel when downscaled (bilinear footprints reach a little further than the box average).
 */
function workLevel(crop: Image, cropHole: Uint8Array, width: number, height: number): Level {
  const sameSize = crop.width === width && crop.height === height;
  const rgb = sameSize ? crop.data : resizeImage(crop, width, height).data;
  const holeF = new Float32Array(cropHole.length);
  for (let i = 0; i < holeF.length; i++) holeF[i] = cropHole[i];
  const small = sameSize ? holeF : resizeMask({ width: crop.width, height: crop.height, data: holeF }, width, height).data;
  let hole: Uint8Array = new Uint8Array(width * height);
  for (let i = 0; i < hole.length; i++) hole[i] = small[i] > 0.01 ? 1 : 0;
  if (!sameSize) hole = dilate(hole, width, height, 1);
  const data = new Float32Array(width * height * CHANNELS);
  for (let p = 0; p < hole.length; p++) {
    data[CHANNELS * p] = rgb[3 * p];
    data[CHANNELS * p + 1] = rgb[3 * p + 1];
    data[CHANNELS * p + 2] = rgb[3 * p + 2];
  }
  addTextureFeatures(data, width, height, hole);
  return { width, height, data, hole };
}

/**
 * Texture features (Newson et al., "Video Inpainting of Complex Scenes", 2014): per known pixel, the
 * mean |∂L/∂x| and |∂L/∂y| of luma over a patch-sized window, in channels 3 and 4. Colour alone lets a
 * smooth patch (a blurry estimate, a plain wall) match a textured one (a wood floor) better than
 * the right texture does, and EM then converges to smooth blobs; with these channels smooth and
 * textured patches no longer look alike. They are computed once at the finest level and averaged
 * down the pyramid, so coarse levels still know which regions are textured at full size. Hole pixels
 * get theirs by synthesis, like the colours.
 */
function addTextureFeatures(data: Float32Array, w: number, h: number, hole: Uint8Array): void {
  const C = CHANNELS;
  const L = (p: number) => 0.299 * data[C * p] + 0.587 * data[C * p + 1] + 0.114 * data[C * p + 2];
  const gx = new Float32Array(w * h);
  const gy = new Float32Array(w * h);
  const valid = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      if (hole[p]) continue;
      const right = x < w - 1 && !hole[p + 1] ? p + 1 : x > 0 && !hole[p - 1] ? p - 1 : -1;
      const down = y < h - 1 && !hole[p + w] ? p + w : y > 0 && !hole[p - w] ? p - w : -1;
      const l = L(p);
      gx[p] = right >= 0 ? Math.abs(L(right) - l) : 0;
      gy[p] = down >= 0 ? Math.abs(L(down) - l) : 0;
      valid[p] = 1;
    }
  }
  // Window means over known pixels only (summed-area tables of values and counts).
  const r = PATCH_RADIUS;
  const sx = summedArea(gx, w, h);
  const sy = summedArea(gy, w, h);
  const sn = summedArea(valid, w, h);
  for (let y = 0; y < h; y++) {
    const y0 = Math.max(0, y - r);
    const y1 = Math.min(h, y + r + 1);
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      if (hole[p]) continue;
      const x0 = Math.max(0, x - r);
      const x1 = Math.min(w, x + r + 1);
      const n = boxSum(sn, w, x0, y0, x1, y1);
      data[C * p + 3] = (TEXTURE_WEIGHT * boxSum(sx, w, x0, y0, x1, y1)) / n;
      data[C * p + 4] = (TEXTURE_WEIGHT * boxSum(sy, w, x0, y0, x1, y1)) / n;
    }
  }
}

/** The colour channels of a level, as an image. */
function rgbOf(level: Level): Image {
  const n = level.width * level.height;
  const out = new Float32Array(n * 3);
  for (let p = 0; p < n; p++) {
    out[3 * p] = level.data[CHANNELS * p];
    out[3 * p + 1] = level.data[CHANNELS * p + 1];
    out[3 * p + 2] = level.data[CHANNELS * p + 2];
  }
  return { width: level.width, height: level.height, data: out };
}

/** Coarse-to-fine EM. Returns undefined when even the finest level has too few source patches. */
async function synthesize(finest: Level, rng: Random, signal: AbortSignal | undefined): Promise<Synthesis | undefined> {
  const levels = [finest];
  const domains = [buildDomain(finest)];
  if (domains[0].sources.length < MIN_SOURCES || domains[0].targets.length === 0) return undefined;
  while (Math.max(levels[levels.length - 1].width, levels[levels.length - 1].height) / 2 >= COARSEST_SIZE) {
    const coarser = downsampleLevel(levels[levels.length - 1]);
    const domain = buildDomain(coarser);
    if (domain.sources.length < MIN_SOURCES || domain.targets.length === 0) break;
    levels.push(coarser);
    domains.push(domain);
  }

  let previous: Synthesis | undefined;
  for (let li = levels.length - 1; li >= 0; li--) {
    // Let timers and abort events run between levels (the work is synchronous within a level).
    await new Promise<void>((resolve) => setImmediate(resolve));
    throwIfCancelled(signal);
    const level = levels[li];
    const domain = domains[li];
    let field: Int32Array;
    const peel = !previous && countHole(level.hole) <= PEEL_MAX_PIXELS;
    if (!previous) {
      field = randomField(level, domain, rng);
      if (peel) peelFill(level, domain, field, rng);
    } else {
      field = upsampleField(previous, level, domain, rng);
    }
    const work = newWorkspace(level);
    // The seed field came from a coarser level: vote once so the patches we match hold this level's
    // detail rather than the coarse level's blur. (Without a peel, the same vote of the random field
    // is a crude start: the mean of random known patches.)
    if (!peel) {
      computeCosts(level, domain, field, work.costs);
      vote(level, domain, field, work);
    }
    const { iterations, passes } = schedule(li, levels.length);
    const searchRadius = previous ? Math.max(1, Math.round(SEEDED_SEARCH_FRACTION * Math.max(level.width, level.height))) : Math.max(level.width, level.height);
    for (let it = 0; it < iterations; it++) {
      computeCosts(level, domain, field, work.costs);
      for (let pass = 0; pass < passes; pass++) patchMatchPass(level, domain, field, work.costs, rng, searchRadius, (it * passes + pass) % 2 === 1);
      vote(level, domain, field, work);
    }
    const weights = work.weights;
    previous = { level, domain, field, weights };
  }
  return previous;
}

/**
 * EM iterations and PatchMatch passes per level. The coarsest level already holds the onion-peel fill,
 * and more EM there only averages it towards smooth blobs (measured: 6 iterations gave the same or
 * worse fills than 1); middle levels settle the layout; the finest level dominates the time and its
 * field is refined once more at full resolution by the final vote, so it gets one iteration.
 */
function schedule(levelIndex: number, levelCount: number): { iterations: number; passes: number } {
  // A small crop gets no pyramid: its one level must do all the work (and is cheap).
  if (levelCount === 1) return { iterations: 3, passes: 2 };
  if (levelIndex === levelCount - 1) return { iterations: 1, passes: 1 };
  if (levelIndex === 0) return { iterations: 1, passes: 2 };
  return { iterations: 2, passes: 2 };
}

/** Half-size level: known pixels average their 2×2 children; a pixel any child of which is hole is hole. */
function downsampleLevel(level: Level): Level {
  const { width: w, height: h } = level;
  const C = CHANNELS;
  const cw = Math.ceil(w / 2);
  const ch = Math.ceil(h / 2);
  const data = new Float32Array(cw * ch * C);
  const hole = new Uint8Array(cw * ch);
  for (let y = 0; y < ch; y++) {
    for (let x = 0; x < cw; x++) {
      const q = y * cw + x;
      let n = 0;
      let anyHole = 0;
      for (let dy = 0; dy < 2; dy++) {
        const fy = 2 * y + dy;
        if (fy >= h) continue;
        for (let dx = 0; dx < 2; dx++) {
          const fx = 2 * x + dx;
          if (fx >= w) continue;
          const p = fy * w + fx;
          anyHole |= level.hole[p];
          for (let c = 0; c < C; c++) data[C * q + c] += level.data[C * p + c];
          n++;
        }
      }
      hole[q] = anyHole;
      for (let c = 0; c < C; c++) data[C * q + c] /= n;
    }
  }
  return { width: cw, height: ch, data, hole };
}

function buildDomain(level: Level): Domain {
  const { width: w, height: h, hole } = level;
  const r = PATCH_RADIUS;
  const holeCount = boxCount(hole, w, h, r);
  const sourceOk = new Uint8Array(w * h);
  const targetList: number[] = [];
  const sourceList: number[] = [];
  for (let y = r; y < h - r; y++) {
    for (let x = r; x < w - r; x++) {
      const p = y * w + x;
      if (holeCount[p] === 0) {
        sourceOk[p] = 1;
        sourceList.push(p);
      } else {
        targetList.push(p);
      }
    }
  }
  // Wexler et al.'s confidence γ^−depth: patches near the hole's edge hold more real context than
  // those deep inside, so they should steer the fill and pull structure inwards from the edge.
  const depth = distanceToKnown(hole, w, h);
  const confidence = new Float32Array(w * h);
  for (let p = 0; p < confidence.length; p++) confidence[p] = Math.pow(CONFIDENCE_BASE, -depth[p]);
  return { targets: Int32Array.from(targetList), sourceOk, sources: Int32Array.from(sourceList), confidence };
}

/** Number of set pixels in the (2r+1)² box around each pixel (zero outside the plane). */
function boxCount(plane: Uint8Array, w: number, h: number, r: number): Int32Array {
  const sat = summedArea(plane, w, h);
  const out = new Int32Array(w * h);
  for (let y = 0; y < h; y++) {
    const y0 = Math.max(0, y - r);
    const y1 = Math.min(h, y + r + 1);
    for (let x = 0; x < w; x++) out[y * w + x] = boxSum(sat, w, Math.max(0, x - r), y0, Math.min(w, x + r + 1), y1);
  }
  return out;
}

function randomField(level: Level, domain: Domain, rng: Random): Int32Array {
  const field = new Int32Array(level.width * level.height).fill(-1);
  const { targets, sources } = domain;
  for (let i = 0; i < targets.length; i++) field[targets[i]] = sources[rng.below(sources.length)];
  return field;
}

/**
 * Coarsest-level start: fills the hole layer by layer from its edge inwards (onion peel), each pixel
 * copied from the centre of the source patch that best matches its already-known neighbourhood
 * (Efros & Leung 1999, with PatchMatch-style candidates). A diffusion start instead gives the
 * deep targets smooth patches, which match smooth sources, and EM then keeps a smooth blob where the
 * structure (window frames, chair rows) should continue. The chosen sources seed the field.
 */
function peelFill(level: Level, domain: Domain, field: Int32Array, rng: Random): void {
  const { width: w, height: h, data, hole } = level;
  const filled = new Uint8Array(hole.length);
  for (let i = 0; i < hole.length; i++) filled[i] = hole[i] ? 0 : 1;
  // Source centre each filled hole pixel was copied from (−1: known, or not yet filled).
  const copiedFrom = new Int32Array(hole.length).fill(-1);
  const offsets = new Int32Array((2 * PATCH_RADIUS + 1) ** 2);
  let front = holeFront(hole, filled, w, h);
  while (front.length > 0) {
    for (const p of front) {
      const s = bestPeelSource(data, filled, w, h, p, domain.sources, rng, copiedFrom, domain.sourceOk, offsets);
      for (let c = 0; c < CHANNELS; c++) data[CHANNELS * p + c] = data[CHANNELS * s + c];
      filled[p] = 1;
      copiedFrom[p] = s;
      // The pixel copies the source centre, so the target patch centred here matches that source.
      if (field[p] >= 0) field[p] = s;
    }
    front = holeFront(hole, filled, w, h);
  }
}

/** Unfilled hole pixels with a filled 8-neighbour: the next layer of the onion. */
function holeFront(hole: Uint8Array, filled: Uint8Array, w: number, h: number): number[] {
  const front: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      if (!hole[p] || filled[p]) continue;
      let touches = false;
      for (let dy = -1; dy <= 1 && !touches; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx >= 0 && xx < w && filled[yy * w + xx]) {
            touches = true;
            break;
          }
        }
      }
      if (touches) front.push(p);
    }
  }
  return front;
}

/**
 * The source centre whose patch best matches the filled pixels of the patch around `p` (SSD over
 * those pixels only; their count is the same for every candidate, so no normalising is needed).
 * Shifted sources of already-filled neighbours go first: they are often right (coherent copying) and
 * make the early exit bite sooner.
 */
function bestPeelSource(
  data: Float32Array,
  filled: Uint8Array,
  w: number,
  h: number,
  p: number,
  sources: Int32Array,
  rng: Random,
  copiedFrom: Int32Array,
  sourceOk: Uint8Array,
  offsets: Int32Array,
): number {
  const r = PATCH_RADIUS;
  const px = p % w;
  const py = (p - px) / w;
  // Relative offsets (in pixels) of the filled, in-bounds pixels around p.
  let count = 0;
  for (let dy = -r; dy <= r; dy++) {
    const y = py + dy;
    if (y < 0 || y >= h) continue;
    for (let dx = -r; dx <= r; dx++) {
      const x = px + dx;
      if (x < 0 || x >= w || !filled[y * w + x]) continue;
      offsets[count++] = dy * w + dx;
    }
  }
  let best = sources[rng.below(sources.length)];
  let bestCost = Infinity;
  const tryCandidate = (s: number) => {
    let d = 0;
    for (let k = 0; k < count; k++) {
      const o = offsets[k];
      const a = CHANNELS * (p + o);
      const b = CHANNELS * (s + o);
      for (let c = 0; c < CHANNELS; c++) {
        const e = data[a + c] - data[b + c];
        d += e * e;
      }
      if ((k & 7) === 7 && d >= bestCost) return;
    }
    if (d < bestCost) {
      bestCost = d;
      best = s;
    }
  };
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      const x = px + dx;
      const y = py + dy;
      if ((dx === 0 && dy === 0) || x < 0 || x >= w || y < 0 || y >= h) continue;
      const from = copiedFrom[y * w + x];
      if (from < 0) continue;
      // The neighbour at (dx, dy) copied `from`; p continues that copy from `from` − (dx, dy).
      // Shifts that wrap a row end land on border columns, which are never valid sources.
      const c = from - dy * w - dx;
      if (c >= 0 && c < sourceOk.length && sourceOk[c]) tryCandidate(c);
    }
  }
  // Random sources anywhere, then a PatchMatch-style search in shrinking windows around the best.
  for (let i = 0; i < PEEL_RANDOM; i++) tryCandidate(sources[rng.below(sources.length)]);
  const bx = best % w;
  const by = (best - bx) / w;
  for (let radius = Math.max(w, h) >> 2; radius >= 1; radius >>= 1) {
    const x = Math.min(w - 1, Math.max(0, bx - radius + rng.below(2 * radius + 1)));
    const y = Math.min(h - 1, Math.max(0, by - radius + rng.below(2 * radius + 1)));
    const c = y * w + x;
    if (sourceOk[c]) tryCandidate(c);
  }
  return best;
}

/**
 * Seeds a level's field from the coarser one: each target takes its parent's source, doubled, with
 * the same sub-pixel phase. Sources that land outside the valid set (near the hole or the border at
 * this finer scale) are replaced by random ones and left to PatchMatch to improve.
 */
function upsampleField(coarse: Synthesis, level: Level, domain: Domain, rng: Random): Int32Array {
  const { width: w } = level;
  const cw = coarse.level.width;
  const ch = coarse.level.height;
  const field = new Int32Array(level.width * level.height).fill(-1);
  const { targets, sourceOk, sources } = domain;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    const x = t % w;
    const y = (t - x) / w;
    const cx = Math.min(x >> 1, cw - 1);
    const cy = Math.min(y >> 1, ch - 1);
    const cs = coarse.field[cy * cw + cx];
    let s = -1;
    if (cs >= 0) {
      const sx = 2 * (cs % cw) + (x & 1);
      const sy = 2 * Math.floor(cs / cw) + (y & 1);
      if (sx < w && sy < level.height) s = sy * w + sx;
    }
    field[t] = s >= 0 && sourceOk[s] ? s : sources[rng.below(sources.length)];
  }
  return field;
}

/** Sum of squared RGB differences between the patches centred at `t` and `s`; stops once ≥ `bound`. */
function patchDistance(data: Float32Array, w: number, t: number, s: number, bound: number): number {
  const r = PATCH_RADIUS;
  const rowLength = (2 * r + 1) * CHANNELS;
  const stride = w * CHANNELS;
  let ti = (t - r * w - r) * CHANNELS;
  let si = (s - r * w - r) * CHANNELS;
  let d = 0;
  for (let row = 0; row <= 2 * r; row++) {
    for (let k = 0; k < rowLength; k++) {
      const e = data[ti + k] - data[si + k];
      d += e * e;
    }
    if (d >= bound) return d;
    ti += stride;
    si += stride;
  }
  return d;
}

function computeCosts(level: Level, domain: Domain, field: Int32Array, costs: Float32Array): void {
  const { targets } = domain;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    costs[t] = patchDistance(level.data, level.width, t, field[t], Infinity);
  }
}

/**
 * One PatchMatch sweep over the targets (forward, or backward when `reverse`): propagation from the
 * previous neighbour in x and y (its source shifted by one), then random search in windows halving
 * from the level's size down to one pixel around the current best.
 */
function patchMatchPass(
  level: Level,
  domain: Domain,
  field: Int32Array,
  costs: Float32Array,
  rng: Random,
  maxRadius: number,
  reverse: boolean,
): void {
  const { width: w, height: h, data } = level;
  const { targets, sourceOk } = domain;
  const r = PATCH_RADIUS;
  const step = reverse ? -1 : 1;
  const n = targets.length;
  for (let k = 0; k < n; k++) {
    const t = targets[reverse ? n - 1 - k : k];
    let best = field[t];
    let bestCost = costs[t];

    // Propagation: a neighbour's good match, shifted along, is likely a good match here. Sources
    // that wrap across a row end fail `sourceOk` (its border columns are never valid).
    const left = field[t - step];
    if (left >= 0) {
      const c = left + step;
      if (c !== best && sourceOk[c]) {
        const d = patchDistance(data, w, t, c, bestCost);
        if (d < bestCost) {
          bestCost = d;
          best = c;
        }
      }
    }
    const up = field[t - step * w];
    if (up >= 0) {
      const c = up + step * w;
      if (c !== best && c >= 0 && c < sourceOk.length && sourceOk[c]) {
        const d = patchDistance(data, w, t, c, bestCost);
        if (d < bestCost) {
          bestCost = d;
          best = c;
        }
      }
    }

    // Random search around the best so far, at exponentially shrinking radii.
    const bx = best % w;
    const by = (best - bx) / w;
    for (let radius = maxRadius; radius >= 1; radius >>= 1) {
      const x0 = Math.max(r, bx - radius);
      const x1 = Math.min(w - 1 - r, bx + radius);
      const y0 = Math.max(r, by - radius);
      const y1 = Math.min(h - 1 - r, by + radius);
      const c = (y0 + rng.below(y1 - y0 + 1)) * w + x0 + rng.below(x1 - x0 + 1);
      if (c === best || !sourceOk[c]) continue;
      const d = patchDistance(data, w, t, c, bestCost);
      if (d < bestCost) {
        bestCost = d;
        best = c;
      }
    }
    field[t] = best;
    costs[t] = bestCost;
  }
}

/**
 * Voting: every hole pixel becomes the weighted mean of the pixels the overlapping source patches put
 * on it. Weights fall off with the patch distance (Wexler's exp(−d / 2σ²), σ² from the 75th percentile
 * of this level's distances), so poor matches count for little where good ones overlap them.
 */
function vote(level: Level, domain: Domain, field: Int32Array, work: Workspace): void {
  const { width: w, data, hole } = level;
  const { targets } = domain;
  const { costs, weights, acc, total } = work;
  const r = PATCH_RADIUS;
  const C = CHANNELS;
  const patchPixels = (2 * r + 1) * (2 * r + 1) * C;
  const sigma2 = Math.max(1, percentile(targets, costs, 0.75) / patchPixels);
  acc.fill(0);
  total.fill(0);
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    const s = field[t];
    const weight = (Math.exp(-costs[t] / patchPixels / (2 * sigma2)) + 1e-6) * domain.confidence[t];
    weights[t] = weight;
    for (let dy = -r; dy <= r; dy++) {
      for (let dx = -r; dx <= r; dx++) {
        const p = t + dy * w + dx;
        if (!hole[p]) continue;
        const q = C * (s + dy * w + dx);
        for (let c = 0; c < C; c++) acc[C * p + c] += weight * data[q + c];
        total[p] += weight;
      }
    }
  }
  for (let p = 0; p < hole.length; p++) {
    if (!hole[p] || total[p] === 0) continue;
    const inv = 1 / total[p];
    for (let c = 0; c < C; c++) data[C * p + c] = acc[C * p + c] * inv;
  }
}

/** Per-level scratch arrays, allocated once per level rather than once per iteration. */
interface Workspace {
  /** Patch distance of each target to its source. */
  costs: Float32Array;
  /** Each target's weight in the last vote. */
  weights: Float32Array;
  /** Vote accumulators: weighted channel sums and weight totals per pixel. */
  acc: Float32Array;
  total: Float32Array;
}

function newWorkspace(level: Level): Workspace {
  const n = level.width * level.height;
  return { costs: new Float32Array(n), weights: new Float32Array(n), acc: new Float32Array(n * CHANNELS), total: new Float32Array(n) };
}

/** The q-quantile of `costs` over the targets, from a strided sample (exactness does not matter). */
function percentile(targets: Int32Array, costs: Float32Array, q: number): number {
  const stride = Math.max(1, Math.floor(targets.length / 2000));
  const sample: number[] = [];
  for (let i = 0; i < targets.length; i += stride) sample.push(costs[targets[i]]);
  sample.sort((a, b) => a - b);
  return sample[Math.min(sample.length - 1, Math.floor(q * sample.length))] ?? 0;
}

/**
 * Carries the finest field to the crop's full resolution: each crop hole pixel looks at the work
 * targets around its position, maps their offsets (source − target) to full-resolution pixels and
 * averages the original known pixels they point at, with the targets' vote weights. Coherent regions
 * of the field agree on one offset and so copy the photo's texture at full sharpness; where none of
 * them lands on a known pixel, the bilinear upscale of the work fill stays.
 */
function voteFullResolution(crop: Image, cropHole: Uint8Array, upscaled: Image, synthesis: Synthesis): void {
  const { width: W, height: H } = crop;
  const { level, field, weights } = synthesis;
  const w = level.width;
  const h = level.height;
  const sx = w / W;
  const sy = h / H;
  const r = PATCH_RADIUS;
  // Each work target's offset (source − target), in full-resolution pixels, computed once.
  const offsetX = new Int32Array(w * h);
  const offsetY = new Int32Array(w * h);
  for (let t = 0; t < field.length; t++) {
    const s = field[t];
    if (s < 0) continue;
    const tx = t % w;
    const sxw = s % w;
    offsetX[t] = Math.round((sxw - tx) / sx);
    offsetY[t] = Math.round(((s - sxw) / w - (t - tx) / w) / sy);
  }
  // Work column / row of each full-resolution column / row.
  const columnOf = new Int32Array(W);
  for (let X = 0; X < W; X++) columnOf[X] = Math.min(w - 1, Math.max(0, Math.round((X + 0.5) * sx - 0.5)));
  const src = crop.data;
  const out = new Float32Array(src);
  for (let Y = 0; Y < H; Y++) {
    const yw = Math.min(h - 1, Math.max(0, Math.round((Y + 0.5) * sy - 0.5)));
    const ty0 = Math.max(0, yw - r);
    const ty1 = Math.min(h - 1, yw + r);
    for (let X = 0; X < W; X++) {
      const P = Y * W + X;
      if (!cropHole[P]) continue;
      const xw = columnOf[X];
      const tx0 = Math.max(0, xw - r);
      const tx1 = Math.min(w - 1, xw + r);
      let rs = 0;
      let gs = 0;
      let bs = 0;
      let total = 0;
      for (let ty = ty0; ty <= ty1; ty++) {
        for (let t = ty * w + tx0, end = ty * w + tx1; t <= end; t++) {
          if (field[t] < 0) continue;
          const QX = X + offsetX[t];
          const QY = Y + offsetY[t];
          if (QX < 0 || QX >= W || QY < 0 || QY >= H) continue;
          const Q = QY * W + QX;
          if (cropHole[Q]) continue;
          const weight = weights[t];
          rs += weight * src[3 * Q];
          gs += weight * src[3 * Q + 1];
          bs += weight * src[3 * Q + 2];
          total += weight;
        }
      }
      if (total > 0) {
        out[3 * P] = rs / total;
        out[3 * P + 1] = gs / total;
        out[3 * P + 2] = bs / total;
      } else {
        out[3 * P] = upscaled.data[3 * P];
        out[3 * P + 1] = upscaled.data[3 * P + 1];
        out[3 * P + 2] = upscaled.data[3 * P + 2];
      }
    }
  }
  crop.data.set(out);
}

// ---------------------------------------------------------------------------------------------
// Diffusion

/**
 * Push-pull fill (Gortler et al. 1996): average the `known` pixels down a pyramid until every cell has
 * some, then fill each `unknown` pixel by bilinear interpolation of the level above, coarsest first.
 * Gives a smooth, gap-free start in O(n) whatever the hole's size; pixels that are neither keep their
 * values and take no part.
 */
function pushPullFill(data: Float32Array, width: number, height: number, unknown: Uint8Array, known: Uint8Array): void {
  let w = width;
  let h = height;
  let values = new Float32Array(data.length);
  let weight = new Float32Array(unknown.length);
  for (let i = 0; i < known.length; i++) {
    if (!known[i]) continue;
    weight[i] = 1;
    values[3 * i] = data[3 * i];
    values[3 * i + 1] = data[3 * i + 1];
    values[3 * i + 2] = data[3 * i + 2];
  }
  const stack: { w: number; h: number; values: Float32Array; weight: Float32Array }[] = [];
  // Push: weighted 2×2 averages until no cell is empty (or one cell is left).
  for (;;) {
    stack.push({ w, h, values, weight });
    if (!weight.includes(0) || (w === 1 && h === 1)) break;
    const cw = Math.ceil(w / 2);
    const ch = Math.ceil(h / 2);
    const cv = new Float32Array(cw * ch * 3);
    const cwt = new Float32Array(cw * ch);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const p = y * w + x;
        const wt = weight[p];
        if (wt === 0) continue;
        const q = (y >> 1) * cw + (x >> 1);
        cv[3 * q] += wt * values[3 * p];
        cv[3 * q + 1] += wt * values[3 * p + 1];
        cv[3 * q + 2] += wt * values[3 * p + 2];
        cwt[q] += wt;
      }
    }
    for (let q = 0; q < cwt.length; q++) {
      if (cwt[q] === 0) continue;
      cv[3 * q] /= cwt[q];
      cv[3 * q + 1] /= cwt[q];
      cv[3 * q + 2] /= cwt[q];
      cwt[q] = Math.min(1, cwt[q]);
    }
    w = cw;
    h = ch;
    values = cv;
    weight = cwt;
  }
  // Pull: empty cells interpolate the (complete) level above bilinearly, so no block edges remain.
  for (let k = stack.length - 2; k >= 0; k--) {
    const fine = stack[k];
    const coarse = stack[k + 1];
    for (let y = 0; y < fine.h; y++) {
      const cy = Math.min(Math.max((y - 0.5) / 2, 0), coarse.h - 1);
      const y0 = Math.floor(cy);
      const y1 = Math.min(y0 + 1, coarse.h - 1);
      const fy = cy - y0;
      for (let x = 0; x < fine.w; x++) {
        const p = y * fine.w + x;
        if (fine.weight[p] !== 0) continue;
        const cx = Math.min(Math.max((x - 0.5) / 2, 0), coarse.w - 1);
        const x0 = Math.floor(cx);
        const x1 = Math.min(x0 + 1, coarse.w - 1);
        const fx = cx - x0;
        for (let c = 0; c < 3; c++) {
          const top = coarse.values[3 * (y0 * coarse.w + x0) + c] * (1 - fx) + coarse.values[3 * (y0 * coarse.w + x1) + c] * fx;
          const bottom = coarse.values[3 * (y1 * coarse.w + x0) + c] * (1 - fx) + coarse.values[3 * (y1 * coarse.w + x1) + c] * fx;
          fine.values[3 * p + c] = top * (1 - fy) + bottom * fy;
        }
        fine.weight[p] = 1;
      }
    }
  }
  const filled = stack[0].values;
  for (let i = 0; i < unknown.length; i++) {
    if (!unknown[i]) continue;
    data[3 * i] = filled[3 * i];
    data[3 * i + 1] = filled[3 * i + 1];
    data[3 * i + 2] = filled[3 * i + 2];
  }
}

/**
 * Over-relaxed Gauss-Seidel sweeps towards the membrane: each listed pixel moves to the mean of its
 * in-bounds 4-neighbours. Only the listed pixels change; all their neighbours must hold values.
 */
function relax(data: Float32Array, w: number, h: number, pixels: Int32Array, sweeps: number): void {
  for (let s = 0; s < sweeps; s++) {
    for (let i = 0; i < pixels.length; i++) {
      const p = pixels[i];
      const x = p % w;
      let r = 0;
      let g = 0;
      let b = 0;
      let n = 0;
      if (x > 0) { r += data[3 * p - 3]; g += data[3 * p - 2]; b += data[3 * p - 1]; n++; }
      if (x < w - 1) { r += data[3 * p + 3]; g += data[3 * p + 4]; b += data[3 * p + 5]; n++; }
      if (p >= w) { const q = 3 * (p - w); r += data[q]; g += data[q + 1]; b += data[q + 2]; n++; }
      if (p < (h - 1) * w) { const q = 3 * (p + w); r += data[q]; g += data[q + 1]; b += data[q + 2]; n++; }
      if (n === 0) continue; // a 1×1 picture
      data[3 * p] += SOR * (r / n - data[3 * p]);
      data[3 * p + 1] += SOR * (g / n - data[3 * p + 1]);
      data[3 * p + 2] += SOR * (b / n - data[3 * p + 2]);
    }
  }
}

/**
 * Removes the seam between a patch fill and its surroundings (Pérez et al.'s idea, on a membrane):
 * a fill copied from elsewhere in the photo often sits a few levels brighter or darker than the
 * pixels around the hole (a wall's light falls off, a lawn darkens towards the front). Along the
 * hole's edge we measure the offset between the local means of the known pixels and of the fill
 * (over a 7×7 window, so texture does not count as offset), spread it across the hole as a
 * membrane, and add it: the fill keeps its texture and meets its surroundings in tone. `data` holds
 * the photo on known pixels and the fill on hole pixels; only hole pixels change.
 */
function matchBoundary(data: Float32Array, w: number, h: number, hole: Uint8Array): void {
  const r = 3;
  const known = new Uint8Array(hole.length);
  for (let i = 0; i < hole.length; i++) known[i] = hole[i] ? 0 : 1;
  // Summed-area tables of known pixels' colours and of the fill's colours over the hole.
  const knownSat = [0, 1, 2].map((c) => summedArea(channelWhere(data, known, c), w, h));
  const fillSat = [0, 1, 2].map((c) => summedArea(channelWhere(data, hole, c), w, h));
  const knownCount = summedArea(known, w, h);
  const holeCount = summedArea(hole, w, h);
  const edge = new Uint8Array(hole.length);
  const interior = new Uint8Array(hole.length);
  const offset = new Float32Array(hole.length * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      if (!hole[p]) continue;
      const onEdge = (x > 0 && known[p - 1]) || (x < w - 1 && known[p + 1]) || (y > 0 && known[p - w]) || (y < h - 1 && known[p + w]);
      if (!onEdge) {
        interior[p] = 1;
        continue;
      }
      edge[p] = 1;
      const x0 = Math.max(0, x - r);
      const y0 = Math.max(0, y - r);
      const x1 = Math.min(w, x + r + 1);
      const y1 = Math.min(h, y + r + 1);
      const nk = boxSum(knownCount, w, x0, y0, x1, y1);
      const nh = boxSum(holeCount, w, x0, y0, x1, y1);
      let largest = 0;
      for (let c = 0; c < 3; c++) {
        const d = boxSum(knownSat[c], w, x0, y0, x1, y1) / nk - boxSum(fillSat[c], w, x0, y0, x1, y1) / nh;
        offset[3 * p + c] = d;
        largest = Math.max(largest, Math.abs(d));
      }
      // A large offset means different things meet here (a wall fill beside a dark TV), not the same
      // surface in different light: matching it would bleed the TV into the wall. Such edge pixels
      // are left to the membrane like interior ones.
      if (largest > MATCH_LIMIT) {
        edge[p] = 0;
        interior[p] = 1;
      }
    }
  }
  if (!edge.includes(1)) return;
  pushPullFill(offset, w, h, interior, edge);
  relax(offset, w, h, holePixels(interior), MATCH_SWEEPS);
  for (let p = 0; p < hole.length; p++) {
    if (!hole[p]) continue;
    data[3 * p] += offset[3 * p];
    data[3 * p + 1] += offset[3 * p + 1];
    data[3 * p + 2] += offset[3 * p + 2];
  }
}

/**
 * `matchBoundary` on the hole's bounding box plus the matching window, in place on `image` (whose
 * known pixels are the photo's and hole pixels the fill): the rest of the crop plays no part.
 */
function matchBoundaryAround(image: Image, hole: Uint8Array): void {
  const box = holeBounds(hole, image.width, image.height);
  if (!box) return;
  const margin = 4;
  const rect = clampRect({ x: box.x - margin, y: box.y - margin, width: box.width + 2 * margin, height: box.height + 2 * margin }, image.width, image.height);
  const part = cropImage(image, rect);
  const partHole = cropPlane(hole, image.width, rect);
  matchBoundary(part.data, rect.width, rect.height, partHole);
  pasteImage(image, part, rect.x, rect.y);
}

/** One colour channel of interleaved RGB where `where` is set, 0 elsewhere. */
function channelWhere(data: Float32Array, where: Uint8Array, c: number): Float32Array {
  const out = new Float32Array(where.length);
  for (let p = 0; p < where.length; p++) if (where[p]) out[p] = data[3 * p + c];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Masks, distances, pasting

function holeBounds(hole: Uint8Array, w: number, h: number): Rect | undefined {
  return boundsWhere(w, h, (p) => hole[p] !== 0);
}

function countHole(hole: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < hole.length; i++) n += hole[i];
  return n;
}

function holePixels(hole: Uint8Array): Int32Array {
  const list = new Int32Array(countHole(hole));
  for (let i = 0, k = 0; i < hole.length; i++) if (hole[i]) list[k++] = i;
  return list;
}

function cropPlane(plane: Uint8Array, width: number, rect: Rect): Uint8Array {
  const out = new Uint8Array(rect.width * rect.height);
  for (let y = 0; y < rect.height; y++) {
    const start = (rect.y + y) * width + rect.x;
    out.set(plane.subarray(start, start + rect.width), y * rect.width);
  }
  return out;
}

/** Square (Chebyshev) dilation by `radius`, separable. */
function dilate(plane: Uint8Array, w: number, h: number, radius: number): Uint8Array {
  const rows = new Uint8Array(plane.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = 0;
      for (let k = Math.max(0, x - radius); k <= Math.min(w - 1, x + radius) && !v; k++) v = plane[y * w + k];
      rows[y * w + x] = v;
    }
  }
  const out = new Uint8Array(plane.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = 0;
      for (let k = Math.max(0, y - radius); k <= Math.min(h - 1, y + radius) && !v; k++) v = rows[k * w + x];
      out[y * w + x] = v;
    }
  }
  return out;
}

/**
 * Chamfer (1, √2) distance of every hole pixel to the nearest known pixel, 0 on known pixels. The
 * picture's border is not a known pixel: a hole that touches it is only as thin as its known side says.
 */
function distanceToKnown(hole: Uint8Array, w: number, h: number): Float32Array {
  const far = w + h;
  const d = new Float32Array(hole.length);
  for (let i = 0; i < hole.length; i++) d[i] = hole[i] ? far : 0;
  const diag = Math.SQRT2;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      if (d[p] === 0) continue;
      let v = d[p];
      if (x > 0) v = Math.min(v, d[p - 1] + 1);
      if (y > 0) {
        v = Math.min(v, d[p - w] + 1);
        if (x > 0) v = Math.min(v, d[p - w - 1] + diag);
        if (x < w - 1) v = Math.min(v, d[p - w + 1] + diag);
      }
      d[p] = v;
    }
  }
  for (let y = h - 1; y >= 0; y--) {
    for (let x = w - 1; x >= 0; x--) {
      const p = y * w + x;
      if (d[p] === 0) continue;
      let v = d[p];
      if (x < w - 1) v = Math.min(v, d[p + 1] + 1);
      if (y < h - 1) {
        v = Math.min(v, d[p + w] + 1);
        if (x < w - 1) v = Math.min(v, d[p + w + 1] + diag);
        if (x > 0) v = Math.min(v, d[p + w - 1] + diag);
      }
      d[p] = v;
    }
  }
  return d;
}

/**
 * Writes the fill into `out` on hole pixels only. The outermost `FEATHER_PX` pixels of the hole ramp
 * from mostly fill to all fill, which hides the last seam between synthesis and photo; known pixels
 * are never touched.
 */
function pasteFeathered(out: Image, fill: Image, rect: Rect, hole: Uint8Array, depth: Float32Array): void {
  const W = out.width;
  for (let y = 0; y < rect.height; y++) {
    for (let x = 0; x < rect.width; x++) {
      const p = (rect.y + y) * W + rect.x + x;
      if (!hole[p]) continue;
      // depth is 1 on the hole's outermost ring, so the ramp starts at 1 / (FEATHER_PX + 1).
      const alpha = Math.min(1, depth[p] / (FEATHER_PX + 1));
      const q = 3 * (y * rect.width + x);
      for (let c = 0; c < 3; c++) {
        const o = out.data[3 * p + c];
        // Tone matching can push a copied pixel past the range; keep the Image contract.
        const v = o + (fill.data[q + c] - o) * alpha;
        out.data[3 * p + c] = v > 255 ? 255 : v > 0 ? v : 0;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** xorshift32: fast, seedable, good enough for PatchMatch's random picks. */
class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }

  /** Integer in [0, n). */
  below(n: number): number {
    let s = this.state;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.state = s >>> 0;
    return this.state % n;
  }
}
