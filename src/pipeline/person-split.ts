/**
 * Per-person masks: the person mask (MediaPipe or ISNet, one mask for everyone) cut into one soft
 * mask per detected person, using the people's boxes (people.ts).
 *
 * 1. The mask's core (> 0.5) is split into connected regions (8-connected).
 * 2. A region that overlaps one person's box clearly more than any other's goes to that person whole:
 *    the region overlapping a person's box most is that person (an arm reaching into a neighbour's
 *    box stays with its owner).
 * 3. A region shared by several boxes (people touching, so the segmenter drew them as one blob) is
 *    cut pixel by pixel: a pixel inside one box goes to it; inside several, to the person it is
 *    joined to most cheaply through similar colours (a geodesic distance from the pixels only that
 *    person's box holds: a grey sleeve is one path from the grey hoodie, a long way from the dog's
 *    fur), that distance shortened for the nearer person (the lower box bottom: someone in front
 *    reaches lower in the picture) or, at the same depth, the clearly more certain one (a half-hidden
 *    person scores lower). Without the photo, or where no path leads, the depth and score order
 *    alone decide, then the nearer box centre line. Pixels outside every box belong to nobody: the segmenter also
 *    marks things that are not people (the Moon behind the Apollo crew, a tapestry touching a head).
 * 4. The soft edge around the core (where the mask fades out) goes to the owner of the nearest core
 *    pixel, and each person's mask is the original soft mask times a slightly feathered ownership,
 *    so masks keep the segmenter's edges and meet without a gap where two people touch.
 *
 * Regions that no box overlaps (a segmenter false positive, someone the detector missed) belong to
 * nobody: they stay real in person mode and are not erased.
 */
import { gaussianBlur } from './filters.ts';
import { boundsWhere, resizeImage, resizeMask, type Image, type Mask, type Rect } from './image.ts';
import type { Face } from './faces.ts';
import type { Person } from './people.ts';

export interface SplitOptions {
  /** Mask value above which a pixel is part of a person's core. */
  core?: number;
  /** Mask value above which a pixel is part of someone's soft edge. */
  edge?: number;
  /**
   * A region goes whole to its main person when no other box holds more than 1 − this share of the
   * region's in-box pixels (else it is cut pixel by pixel).
   */
  dominant?: number;
  /**
   * The photo (same size as the mask). With it, pixels several boxes claim go to the person they are
   * joined to by the most similar colours (see `geodesicClaims`); without it, by the box rules alone.
   */
  image?: Image;
}

/** Ownership of mask pixels, and the per-person soft masks made from it on demand. */
export interface PersonSplit {
  /** `owner[p]`: the person's position in `people`, or -1. */
  owner: Int16Array;
  width: number;
  height: number;
  /** Each person's share of the picture (mask values summed over the pixels they own). */
  areas: number[];
  /** The soft mask of some people together (positions in `people`), the size of the mask. */
  maskOf(positions: readonly number[]): Mask;
}

/** Boxes are grown by this share of their size when counting overlaps: hair and hands poke out. */
const BOX_MARGIN = 0.05;

/**
 * Who owns each pixel of `mask` (people's boxes in mask pixels), and their soft masks on demand.
 */
export function splitPersonMask(mask: Mask, people: readonly Person[], options: SplitOptions = {}): PersonSplit {
  const { width, height } = mask;
  const n = width * height;
  const core = options.core ?? 0.5;
  const edge = options.edge ?? 0.02;
  const dominant = options.dominant ?? 0.85;
  const owner = new Int16Array(n).fill(-1);
  if (people.length === 0) return splitResult(mask, owner, 0);

  const boxes = people.map((p) => grownBox(p.box, width, height));
  const { labels, count } = labelRegions(mask.data, width, height, core);

  // Pixels of each region inside each (grown) box, and the region's pixels inside any box.
  const overlap = new Float64Array(count * people.length);
  const inAny = new Float64Array(count);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const label = labels[y * width + x];
      if (label < 0) continue;
      let any = false;
      for (let i = 0; i < boxes.length; i++) {
        if (inside(boxes[i], x, y)) {
          overlap[label * people.length + i]++;
          any = true;
        }
      }
      if (any) inAny[label]++;
    }
  }

  // Each region's main person (most overlap) and whether it goes to that person whole.
  const main = new Int16Array(count).fill(-1);
  const whole = new Uint8Array(count);
  for (let r = 0; r < count; r++) {
    let best = -1;
    let bestOverlap = 0;
    let second = 0;
    for (let i = 0; i < people.length; i++) {
      const o = overlap[r * people.length + i];
      if (o > bestOverlap) {
        second = bestOverlap;
        bestOverlap = o;
        best = i;
      } else if (o > second) second = o;
    }
    if (best < 0) continue; // in no box: nobody's
    main[r] = best;
    // "Clearly more": no other box holds more than a sliver of the region (an arm, a shoulder).
    whole[r] = second <= (1 - dominant) * inAny[r] ? 1 : 0;
  }

  const priority = depthOrder(people, height);
  const claims = options.image && people.length > 1 ? geodesicClaims(options.image, mask, boxes, core) : undefined;
  const candidates: number[] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const label = labels[p];
      if (label < 0 || main[label] < 0) continue;
      candidates.length = 0;
      for (let i = 0; i < boxes.length; i++) if (inside(boxes[i], x, y)) candidates.push(i);
      let chosen = candidates.length === 1 ? candidates[0] : -1;
      if (candidates.length > 1 && claims && !whole[label]) chosen = claims.closest(x, y, candidates, priority);
      if (chosen < 0) for (const i of candidates) if (chosen < 0 || wins(i, chosen, x, people, priority)) chosen = i;
      // Outside every box: not a person the detector saw (the moon behind the astronauts, a
      // tapestry touching a head); inside one: its box's, or the whole region's main person's.
      if (chosen >= 0) owner[p] = whole[label] ? main[label] : chosen;
    }
  }

  spreadToEdges(owner, mask.data, width, height, edge, core);
  return splitResult(mask, owner, people.length);
}

function splitResult(mask: Mask, owner: Int16Array, count: number): PersonSplit {
  const { width, height } = mask;
  const areas = new Array<number>(count).fill(0);
  for (let p = 0; p < owner.length; p++) if (owner[p] >= 0) areas[owner[p]] += mask.data[p];
  for (let i = 0; i < count; i++) areas[i] /= owner.length;
  return { owner, width, height, areas, maskOf: (positions) => ownedMask(mask, owner, positions) };
}

/**
 * The mask times the chosen people's ownership, feathered a little (blurred within the owned pixels'
 * bounding box only): where a chosen person meets someone else the mask fades over a pixel or two
 * instead of stepping; at their outline the mask itself fades.
 */
function ownedMask(mask: Mask, owner: Int16Array, positions: readonly number[]): Mask {
  const { width, height } = mask;
  const data = new Float32Array(width * height);
  const picked = new Uint8Array(Math.max(1, ...positions.map((i) => i + 1)));
  for (const i of positions) picked[i] = 1;
  const bounds = boundsWhere(width, height, (p) => owner[p] >= 0 && picked[owner[p]] === 1);
  if (!bounds) return { width, height, data };
  const [x0, y0, x1, y1] = [bounds.x, bounds.y, bounds.x + bounds.width - 1, bounds.y + bounds.height - 1];
  const sigma = Math.max(0.8, Math.max(width, height) / 800);
  const pad = Math.ceil(3 * sigma) + 2;
  const bx = Math.max(0, x0 - pad);
  const by = Math.max(0, y0 - pad);
  const bw = Math.min(width, x1 + pad + 1) - bx;
  const bh = Math.min(height, y1 + pad + 1) - by;
  const own = new Float32Array(bw * bh);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const o = owner[(by + y) * width + bx + x];
      own[y * bw + x] = o >= 0 && picked[o] ? 1 : 0;
    }
  }
  const soft = gaussianBlur(own, bw, bh, sigma);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const p = (by + y) * width + bx + x;
      // Nobody's pixels (outside every box) stay out even where the blur reaches them.
      if (owner[p] >= 0) data[p] = mask.data[p] * soft[y * bw + x];
    }
  }
  return { width, height, data };
}

/**
 * The person each face belongs to (position in `people`, or -1): the owner of the mask under the
 * face's centre, else the box holding the centre that is nearest to the viewer.
 */
export function facesOwners(faces: readonly Face[], people: readonly Person[], split: PersonSplit): number[] {
  const priority = depthOrder(people, split.height);
  return faces.map((face) => {
    const cx = face.box.x + face.box.width / 2;
    const cy = face.box.y + face.box.height / 2;
    const x = Math.min(split.width - 1, Math.max(0, Math.round(cx)));
    const y = Math.min(split.height - 1, Math.max(0, Math.round(cy)));
    const owned = split.owner[y * split.width + x];
    if (owned >= 0) return owned;
    let chosen = -1;
    for (let i = 0; i < people.length; i++) {
      if (!inside(people[i].box, cx, cy)) continue;
      if (chosen < 0 || wins(i, chosen, cx, people, priority)) chosen = i;
    }
    return chosen;
  });
}

/** Share of the picture a soft mask covers (0..1). */
export function coverage(mask: Mask): number {
  let sum = 0;
  for (let i = 0; i < mask.data.length; i++) sum += mask.data[i];
  return sum / mask.data.length;
}

interface DepthInfo {
  bottom: number[];
  score: number[];
  /** Bottoms closer than this (px) count as the same depth. */
  sameDepth: number;
}

function depthOrder(people: readonly Person[], height: number): DepthInfo {
  return {
    bottom: people.map((p) => p.box.y + p.box.height),
    score: people.map((p) => p.score),
    sameDepth: 0.05 * height,
  };
}

/** Whether person `a` rather than `b` owns a pixel at column x that lies in both their boxes. */
function wins(a: number, b: number, x: number, people: readonly Person[], d: DepthInfo): boolean {
  const depth = d.bottom[a] - d.bottom[b];
  if (Math.abs(depth) > d.sameDepth) return depth > 0; // lower bottom: nearer the camera, in front
  const certainty = d.score[a] - d.score[b];
  if (Math.abs(certainty) > 0.1) return certainty > 0; // the half-hidden one scores lower
  const ba = people[a].box;
  const bb = people[b].box;
  const fromA = Math.abs(x - (ba.x + ba.width / 2)) / Math.max(1, ba.width);
  const fromB = Math.abs(x - (bb.x + bb.width / 2)) / Math.max(1, bb.width);
  return fromA < fromB;
}

function grownBox(box: Rect, width: number, height: number): Rect {
  const mx = box.width * BOX_MARGIN;
  const my = box.height * BOX_MARGIN;
  const x0 = Math.max(0, box.x - mx);
  const y0 = Math.max(0, box.y - my);
  const x1 = Math.min(width, box.x + box.width + mx);
  const y1 = Math.min(height, box.y + box.height + my);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

function inside(box: Rect, x: number, y: number): boolean {
  return x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height;
}

/** 8-connected regions of `data > threshold`: a label per pixel (-1 outside), and their count. */
export function labelRegions(data: Float32Array, width: number, height: number, threshold: number): { labels: Int32Array; count: number } {
  const labels = new Int32Array(width * height).fill(-1);
  const stack = new Int32Array(width * height);
  let count = 0;
  for (let start = 0; start < labels.length; start++) {
    if (labels[start] >= 0 || !(data[start] > threshold)) continue;
    const label = count++;
    labels[start] = label;
    let top = 0;
    stack[top++] = start;
    while (top > 0) {
      const p = stack[--top];
      const x = p % width;
      const y = (p - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width || (dx === 0 && dy === 0)) continue;
          const q = ny * width + nx;
          if (labels[q] < 0 && data[q] > threshold) {
            labels[q] = label;
            stack[top++] = q;
          }
        }
      }
    }
  }
  return { labels, count };
}

/**
 * Gives every unowned soft-edge pixel (`edge` < mask ≤ `core`) the owner of the nearest owned pixel
 * (breadth-first from all owned pixels at once, through soft-edge pixels only), in place.
 */
function spreadToEdges(owner: Int16Array, mask: Float32Array, width: number, height: number, edge: number, core: number): void {
  const queue = new Int32Array(width * height);
  let head = 0;
  let tail = 0;
  for (let p = 0; p < owner.length; p++) if (owner[p] >= 0) queue[tail++] = p;
  while (head < tail) {
    const p = queue[head++];
    const x = p % width;
    for (let k = 0; k < 4; k++) {
      const q = k === 0 ? (x > 0 ? p - 1 : -1) : k === 1 ? (x < width - 1 ? p + 1 : -1) : k === 2 ? p - width : p + width;
      // Only through the soft edge: a core pixel left unowned is outside every box and stays so.
      if (q < 0 || q >= owner.length || owner[q] >= 0 || !(mask[q] > edge) || mask[q] > core) continue;
      owner[q] = owner[p];
      queue[tail++] = q;
    }
  }
}

/** Long side of the grid the geodesic distances are computed on (they only decide contested pixels). */
const GEODESIC_SIDE = 320;
/** Colour difference (mean of |ΔR|, |ΔG|, |ΔB|) that costs one more step: edges between people are long ways round. */
const COLOUR_STEP = 6;
/** The nearer person's distance counts for this much; the more certain one's (same depth) for PRIORITY_SCORE. */
const PRIORITY_DEPTH = 0.75;
const PRIORITY_SCORE = 0.85;

interface Claims {
  /** The candidate (a position in `people`) that claims the pixel most strongly, or -1 when none reaches it. */
  closest(x: number, y: number, candidates: readonly number[], priority: DepthInfo): number;
}

/**
 * For each person, the geodesic distance (Dijkstra on a reduced 4-connected grid of core mask
 * pixels inside their box) from the pixels only their box holds; each step costs 1 plus the colour
 * difference over COLOUR_STEP. A person whose box lies inside others' starts from the middle of
 * their box instead.
 */
function geodesicClaims(image: Image, mask: Mask, boxes: readonly Rect[], core: number): Claims {
  const k = Math.min(1, GEODESIC_SIDE / Math.max(mask.width, mask.height));
  const w = Math.max(1, Math.round(mask.width * k));
  const h = Math.max(1, Math.round(mask.height * k));
  const small = resizeImage(image, w, h).data;
  const coreSmall = resizeMask(mask, w, h).data;
  const sx = w / mask.width;
  const sy = h / mask.height;
  const cells = boxes.map((b) => ({
    x0: Math.max(0, Math.floor(b.x * sx)),
    y0: Math.max(0, Math.floor(b.y * sy)),
    x1: Math.min(w, Math.ceil((b.x + b.width) * sx)),
    y1: Math.min(h, Math.ceil((b.y + b.height) * sy)),
  }));
  const inCell = (c: (typeof cells)[number], x: number, y: number) => x >= c.x0 && x < c.x1 && y >= c.y0 && y < c.y1;
  const distances = cells.map((cell, i) => {
    const seeds: number[] = [];
    for (let y = cell.y0; y < cell.y1; y++) {
      for (let x = cell.x0; x < cell.x1; x++) {
        if (!(coreSmall[y * w + x] > core)) continue;
        if (cells.every((c, j) => j === i || !inCell(c, x, y))) seeds.push(y * w + x);
      }
    }
    if (seeds.length === 0) {
      // Wholly inside other boxes: start from the middle fifth of the box.
      const mx = (cell.x1 - cell.x0) * 0.4;
      const my = (cell.y1 - cell.y0) * 0.4;
      for (let y = Math.floor(cell.y0 + my); y < Math.ceil(cell.y1 - my); y++) {
        for (let x = Math.floor(cell.x0 + mx); x < Math.ceil(cell.x1 - mx); x++) if (coreSmall[y * w + x] > core) seeds.push(y * w + x);
      }
    }
    return geodesic(small, coreSmall, w, h, cell, seeds, core);
  });
  return {
    closest(x, y, candidates, priority) {
      const p = Math.min(h - 1, Math.floor(y * sy)) * w + Math.min(w - 1, Math.floor(x * sx));
      let best = -1;
      let bestCost = Infinity;
      for (const i of candidates) {
        const d = distances[i][p];
        if (!Number.isFinite(d)) continue;
        const cost = d * priorityFactor(i, candidates, priority);
        if (cost < bestCost) {
          bestCost = cost;
          best = i;
        }
      }
      return best;
    },
  };
}

/** How much a person's claim on a shared pixel is shortened: nearer than every rival, or at their depth more certain. */
function priorityFactor(i: number, candidates: readonly number[], d: DepthInfo): number {
  const rivals = candidates.filter((j) => j !== i);
  if (rivals.every((j) => d.bottom[i] - d.bottom[j] > d.sameDepth)) return PRIORITY_DEPTH;
  if (rivals.every((j) => Math.abs(d.bottom[i] - d.bottom[j]) <= d.sameDepth && d.score[i] - d.score[j] > 0.1)) return PRIORITY_SCORE;
  return 1;
}

/** Dijkstra over core pixels inside `cell` from `seeds`; Infinity where no path leads. */
function geodesic(
  rgb: Float32Array,
  coreMask: Float32Array,
  w: number,
  h: number,
  cell: { x0: number; y0: number; x1: number; y1: number },
  seeds: readonly number[],
  core: number,
): Float32Array {
  const dist = new Float32Array(w * h).fill(Infinity);
  const heap = new MinHeap(w * h);
  for (const s of seeds) {
    dist[s] = 0;
    heap.push(s, 0);
  }
  while (heap.size > 0) {
    const p = heap.pop();
    const dp = dist[p];
    if (heap.poppedKey > dp) continue; // a stale entry: p was reached more cheaply since
    const x = p % w;
    const y = (p - x) / w;
    for (let n = 0; n < 4; n++) {
      const nx = n === 0 ? x - 1 : n === 1 ? x + 1 : x;
      const ny = n === 2 ? y - 1 : n === 3 ? y + 1 : y;
      if (nx < cell.x0 || nx >= cell.x1 || ny < cell.y0 || ny >= cell.y1) continue;
      const q = ny * w + nx;
      if (!(coreMask[q] > core)) continue;
      const diff = (Math.abs(rgb[p * 3] - rgb[q * 3]) + Math.abs(rgb[p * 3 + 1] - rgb[q * 3 + 1]) + Math.abs(rgb[p * 3 + 2] - rgb[q * 3 + 2])) / 3;
      const dq = dp + 1 + diff / COLOUR_STEP;
      if (dq < dist[q]) {
        dist[q] = dq;
        heap.push(q, dq);
      }
    }
  }
  return dist;
}

/** Binary min-heap of (index, key) with lazy deletion: a popped index may be stale, which Dijkstra tolerates. */
class MinHeap {
  private readonly items: Int32Array;
  private readonly keys: Float32Array;
  size = 0;
  /** The key of the item `pop` returned last. */
  poppedKey = 0;

  constructor(capacity: number) {
    // Each pixel can be pushed once per improvement; 4 per pixel bounds it on a 4-connected grid.
    this.items = new Int32Array(capacity * 4 + 16);
    this.keys = new Float32Array(capacity * 4 + 16);
  }

  push(item: number, key: number): void {
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.keys[parent] <= key) break;
      this.items[i] = this.items[parent];
      this.keys[i] = this.keys[parent];
      i = parent;
    }
    this.items[i] = item;
    this.keys[i] = key;
  }

  pop(): number {
    const top = this.items[0];
    this.poppedKey = this.keys[0];
    const lastItem = this.items[--this.size];
    const lastKey = this.keys[this.size];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= this.size) break;
      if (child + 1 < this.size && this.keys[child + 1] < this.keys[child]) child++;
      if (this.keys[child] >= lastKey) break;
      this.items[i] = this.items[child];
      this.keys[i] = this.keys[child];
      i = child;
    }
    this.items[i] = lastItem;
    this.keys[i] = lastKey;
    return top;
  }
}
