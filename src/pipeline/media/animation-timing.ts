/**
 * Frame timing of animated GIF and WebP, read from (and for GIF written into) the bytes themselves.
 *
 * ffmpeg decodes GIFs at a constant frame rate and writes them with its own delays and loop setting;
 * a stylized GIF should play exactly like the one that was sent. So we walk the container blocks
 * ourselves (no pixels are decoded, a 10,000-frame GIF takes a millisecond) to read each frame's delay
 * and the loop count, and patch them back into the GIF ffmpeg writes.
 *
 * GIF: header, logical screen descriptor, global colour table, then extensions (Graphic Control
 * Extension: the next frame's delay in centiseconds; NETSCAPE2.0 application extension: the loop
 * count) and image descriptors with their LZW data in sub-blocks, up to the 0x3B trailer.
 * WebP: RIFF chunks; VP8X carries the canvas size and the animation flag, ANIM the loop count, and
 * one ANMF chunk per frame its duration in ms.
 *
 * Loop counts are reported as stored, and the two formats count differently: GIF's NETSCAPE value is
 * the number of *repeats* (browsers and libvips play it n + 1 times; sharp's `loop` metadata and
 * option for GIF are plays, so sharp reads a stored 3 as 4 and writes loop: 1 as no extension), while
 * WebP's ANIM value is the number of *plays* (sharp reads and writes it unchanged). 0 is forever in
 * both.
 */
import { AnimefyError } from '../../errors.ts';

export interface AnimationTiming {
  width: number;
  height: number;
  frames: number;
  /** Milliseconds per frame. */
  delays: number[];
  /**
   * 0 = forever, n = the NETSCAPE (GIF: repeats) or ANIM (WebP: plays) count as stored, null = no loop
   * extension / ANIM chunk (plays once).
   */
  loop: number | null;
}

const EXTENSION = 0x21;
const IMAGE = 0x2c;
const TRAILER = 0x3b;
const GRAPHIC_CONTROL = 0xf9;
const APPLICATION = 0xff;
const LOOP_APPLICATIONS = ['NETSCAPE2.0', 'ANIMEXTS1.0'];

/** One complete block of a GIF after its header, as byte offsets [start, end). */
type GifBlock =
  | { kind: 'gce'; start: number; end: number; delayCs: number | undefined }
  | { kind: 'loop'; start: number; end: number; loop: number }
  | { kind: 'image'; start: number; end: number; right: number; bottom: number }
  | { kind: 'other'; start: number; end: number };

interface GifLayout {
  width: number;
  height: number;
  /** End of header, logical screen descriptor and global colour table. */
  headerEnd: number;
  /** The complete blocks up to the trailer (or up to where the stream breaks off). */
  blocks: GifBlock[];
  frames: number;
}

export function isGif(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 6 &&
    bytes[0] === 0x47 && // G
    bytes[1] === 0x49 && // I
    bytes[2] === 0x46 && // F
    bytes[3] === 0x38 && // 8
    (bytes[4] === 0x37 || bytes[4] === 0x39) && // 7 | 9
    bytes[5] === 0x61 // a
  );
}

function u16le(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8);
}

function u24le(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16);
}

/** Offset just past a run of data sub-blocks (and their 0 terminator) starting at `at`; -1 if cut off. */
function skipSubBlocks(bytes: Uint8Array, at: number): number {
  let pos = at;
  while (pos < bytes.length) {
    const size = bytes[pos];
    pos += 1;
    if (size === 0) return pos;
    pos += size;
  }
  return -1;
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end && i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/**
 * Walks a GIF's blocks. Stops at the trailer, or at the first block that is cut off or malformed
 * (the blocks before it are kept). Throws NOT_A_VIDEO for a non-GIF, CORRUPT_VIDEO when not even the
 * header is complete.
 */
function walkGif(bytes: Uint8Array): GifLayout {
  if (!isGif(bytes)) throw new AnimefyError('NOT_A_VIDEO');
  if (bytes.length < 13) throw new AnimefyError('CORRUPT_VIDEO');
  const width = u16le(bytes, 6);
  const height = u16le(bytes, 8);
  const screenFlags = bytes[10];
  let pos = 13;
  if (screenFlags & 0x80) pos += 3 << ((screenFlags & 0x07) + 1);
  if (pos > bytes.length) throw new AnimefyError('CORRUPT_VIDEO');
  const headerEnd = pos;

  const blocks: GifBlock[] = [];
  let frames = 0;
  while (pos < bytes.length) {
    const start = pos;
    const introducer = bytes[pos];
    if (introducer === TRAILER) break;
    if (introducer === EXTENSION) {
      if (pos + 2 > bytes.length) break;
      const label = bytes[pos + 1];
      const end = skipSubBlocks(bytes, pos + 2);
      if (end < 0) break;
      const size = bytes[pos + 2];
      if (label === GRAPHIC_CONTROL) {
        blocks.push({ kind: 'gce', start, end, delayCs: size >= 3 ? u16le(bytes, pos + 4) : undefined });
      } else if (label === APPLICATION && size === 11 && LOOP_APPLICATIONS.includes(ascii(bytes, pos + 3, pos + 14))) {
        // First data sub-block after the identifier: [size ≥ 3, 1, loop lo, loop hi].
        const sub = pos + 14;
        if (sub + 3 < end && bytes[sub] >= 3 && bytes[sub + 1] === 1) {
          blocks.push({ kind: 'loop', start, end, loop: u16le(bytes, sub + 2) });
        } else {
          blocks.push({ kind: 'other', start, end });
        }
      } else {
        blocks.push({ kind: 'other', start, end });
      }
      pos = end;
    } else if (introducer === IMAGE) {
      if (pos + 10 > bytes.length) break;
      const left = u16le(bytes, pos + 1);
      const top = u16le(bytes, pos + 3);
      const w = u16le(bytes, pos + 5);
      const h = u16le(bytes, pos + 7);
      const flags = bytes[pos + 9];
      let data = pos + 10;
      if (flags & 0x80) data += 3 << ((flags & 0x07) + 1);
      data += 1; // LZW minimum code size
      if (data > bytes.length) break;
      const end = skipSubBlocks(bytes, data);
      if (end < 0) break;
      blocks.push({ kind: 'image', start, end, right: left + w, bottom: top + h });
      frames += 1;
      pos = end;
    } else {
      break; // not a block introducer: malformed from here on
    }
  }
  return { width, height, headerEnd, blocks, frames };
}

/**
 * Frame count, per-frame delays and loop count of a GIF. The delay of a frame comes from the Graphic
 * Control Extension before it (centiseconds × 10; 0 when it has none). Throws AnimefyError:
 * NOT_A_VIDEO when the bytes are not a GIF, CORRUPT_VIDEO when it is cut off or malformed before its
 * first complete frame. A GIF cut off later returns its complete frames.
 */
export function readGifTiming(bytes: Uint8Array): AnimationTiming {
  const layout = walkGif(bytes);
  if (layout.frames === 0) throw new AnimefyError('CORRUPT_VIDEO');
  const delays: number[] = [];
  let loop: number | null = null;
  let pendingDelay = 0;
  let right = 0;
  let bottom = 0;
  for (const block of layout.blocks) {
    if (block.kind === 'gce') {
      pendingDelay = (block.delayCs ?? 0) * 10;
    } else if (block.kind === 'loop') {
      if (loop === null) loop = block.loop;
    } else if (block.kind === 'image') {
      delays.push(pendingDelay);
      pendingDelay = 0;
      right = Math.max(right, block.right);
      bottom = Math.max(bottom, block.bottom);
    }
  }
  // A few encoders leave the logical screen at 0x0; the frames then define the canvas.
  return {
    width: layout.width || right,
    height: layout.height || bottom,
    frames: layout.frames,
    delays,
    loop,
  };
}

/** A Graphic Control Extension: no disposal, no transparency, the given delay. */
function graphicControl(delayCs: number): Buffer {
  return Buffer.from([EXTENSION, GRAPHIC_CONTROL, 4, 0, delayCs & 0xff, delayCs >> 8, 0, 0]);
}

function loopExtension(loop: number): Buffer {
  return Buffer.concat([
    Buffer.from([EXTENSION, APPLICATION, 11]),
    Buffer.from('NETSCAPE2.0', 'latin1'),
    Buffer.from([3, 1, loop & 0xff, loop >> 8, 0]),
  ]);
}

function toCentiseconds(ms: number): number {
  if (!Number.isFinite(ms)) throw new RangeError(`GIF frame delay must be a finite number of ms, got ${ms}`);
  return Math.min(0xffff, Math.max(0, Math.round(ms / 10)));
}

/**
 * A copy of a GIF (e.g. one written by ffmpeg) with frame i's delay set to delaysMs[i] (rounded to
 * centiseconds; a frame without a Graphic Control Extension gets one inserted before it) and the
 * NETSCAPE2.0 loop extension set to `loop` (placed after the global colour table; removed when loop is
 * null). Throws a RangeError when the frame count differs from delaysMs.length.
 */
export function writeGifTiming(bytes: Uint8Array, delaysMs: readonly number[], loop: number | null): Buffer {
  const layout = walkGif(bytes);
  if (layout.frames !== delaysMs.length) {
    throw new RangeError(`GIF has ${layout.frames} frames but ${delaysMs.length} delays were given`);
  }
  if (loop !== null && !(Number.isInteger(loop) && loop >= 0 && loop <= 0xffff)) {
    throw new RangeError(`GIF loop count must be an integer in 0..65535 or null, got ${loop}`);
  }
  const delaysCs = delaysMs.map(toCentiseconds);
  const src = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  const parts: Buffer[] = [src.subarray(0, layout.headerEnd)];
  if (loop !== null) parts.push(loopExtension(loop));
  let frame = 0;
  let frameHasGce = false;
  for (const block of layout.blocks) {
    const piece = src.subarray(block.start, block.end);
    if (block.kind === 'loop') continue; // replaced by the one after the colour table
    if (block.kind === 'gce') {
      if (frame < delaysCs.length && block.delayCs !== undefined) {
        const patched = Buffer.from(piece);
        patched[4] = delaysCs[frame] & 0xff;
        patched[5] = delaysCs[frame] >> 8;
        parts.push(patched);
      } else {
        parts.push(piece);
      }
      frameHasGce = true;
    } else if (block.kind === 'image') {
      if (!frameHasGce) parts.push(graphicControl(delaysCs[frame]));
      parts.push(piece);
      frame += 1;
      frameHasGce = false;
    } else {
      parts.push(piece);
    }
  }
  parts.push(Buffer.from([TRAILER]));
  return Buffer.concat(parts);
}

function fourcc(bytes: Uint8Array, at: number): string {
  return ascii(bytes, at, at + 4);
}

function u32le(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

/** RIFF/WEBP whose first chunk is VP8X with the animation flag set. */
export function isAnimatedWebp(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 21 &&
    fourcc(bytes, 0) === 'RIFF' &&
    fourcc(bytes, 8) === 'WEBP' &&
    fourcc(bytes, 12) === 'VP8X' &&
    (bytes[20] & 0x02) !== 0
  );
}

/**
 * Animated WebP (RIFF/WEBP with the VP8X animation flag): canvas size from VP8X, loop from ANIM, one
 * entry per ANMF chunk with its duration (24-bit ms). undefined for a still WebP or a non-WebP. Throws
 * CORRUPT_VIDEO for an animated WebP without a single complete frame.
 */
export function readWebpTiming(bytes: Uint8Array): AnimationTiming | undefined {
  if (!isAnimatedWebp(bytes)) return undefined;
  if (bytes.length < 30) throw new AnimefyError('CORRUPT_VIDEO');
  const width = u24le(bytes, 24) + 1;
  const height = u24le(bytes, 27) + 1;
  const end = Math.min(bytes.length, 8 + u32le(bytes, 4));
  const delays: number[] = [];
  let loop: number | null = null;
  let pos = 12;
  while (pos + 8 <= end) {
    const id = fourcc(bytes, pos);
    const size = u32le(bytes, pos + 4);
    const payload = pos + 8;
    if (payload + size > end) break; // cut off
    if (id === 'ANIM' && size >= 6) loop = u16le(bytes, payload + 4);
    else if (id === 'ANMF' && size >= 16) delays.push(u24le(bytes, payload + 12));
    pos = payload + size + (size & 1);
  }
  if (delays.length === 0) throw new AnimefyError('CORRUPT_VIDEO');
  return { width, height, frames: delays.length, delays, loop };
}
