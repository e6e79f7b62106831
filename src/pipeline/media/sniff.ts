/**
 * What kind of media some bytes are, from their magic numbers alone. File names and the MIME type a
 * chat platform claims are often wrong (a "GIF" from a GIF keyboard is usually an MP4, a sticker may
 * be an animated WebP), so routing between the photo and the GIF/video pipelines looks at the bytes.
 *
 * A GIF with a single frame and a still WebP are photos; an animated WebP goes with GIFs. AVIF and
 * HEIC share MP4's container (ISO-BMFF) and are told apart by their `ftyp` brands.
 */
import { isAnimatedWebp, isGif, readGifTiming } from './animation-timing.ts';

/** The three kinds of input the pipeline routes between (a picture, a GIF or animated WebP, a video). */
export type MediaKind = 'image' | 'gif' | 'video';
export const MEDIA_KINDS: readonly MediaKind[] = ['image', 'gif', 'video'];

/** ftyp brands of still (or sequence) images in an ISO-BMFF container: AVIF and HEIF/HEIC. */
const IMAGE_BRANDS = new Set(['avif', 'avis', 'heic', 'heix', 'mif1', 'msf1']);
/** Compatible brands that mark an image even when the major brand is generic. */
const IMAGE_ONLY_BRANDS = new Set(['avif', 'avis', 'heic', 'heix']);
/** Top-level boxes an old QuickTime file may start with when it has no ftyp. */
const QUICKTIME_BOXES = new Set(['moov', 'mdat', 'wide', 'free', 'skip', 'pnot']);
/** BMP info header sizes (BITMAPCOREHEADER … BITMAPV5HEADER). */
const BMP_HEADER_SIZES = new Set([12, 16, 40, 52, 56, 64, 108, 124]);

function ascii(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end && i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

function startsWith(bytes: Uint8Array, magic: readonly number[], at = 0): boolean {
  if (bytes.length < at + magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (bytes[at + i] !== magic[i]) return false;
  return true;
}

function u32be(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

/** ISO-BMFF (MP4, MOV, 3GP, AVIF, HEIC): a first box `ftyp`, or a QuickTime top-level box. */
export function looksLikeIsoBmff(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  const type = ascii(bytes, 4, 8);
  const size = u32be(bytes, 0);
  if (type === 'ftyp') return size >= 8;
  // size 0 = "to the end of the file", 1 = a 64-bit size follows.
  return QUICKTIME_BOXES.has(type) && (size === 0 || size === 1 || size >= 8);
}

function isoBmffKind(bytes: Uint8Array): MediaKind {
  if (ascii(bytes, 4, 8) !== 'ftyp' || bytes.length < 12) return 'video';
  if (IMAGE_BRANDS.has(ascii(bytes, 8, 12))) return 'image';
  // Compatible brands follow the major brand and minor version, to the end of the ftyp box.
  const end = Math.min(bytes.length, u32be(bytes, 0));
  for (let at = 16; at + 4 <= end; at += 4) {
    if (IMAGE_ONLY_BRANDS.has(ascii(bytes, at, at + 4))) return 'image';
  }
  return 'video';
}

function isBmp(bytes: Uint8Array): boolean {
  if (!startsWith(bytes, [0x42, 0x4d]) || bytes.length < 18) return false;
  const headerSize = (bytes[14] | (bytes[15] << 8) | (bytes[16] << 16) | (bytes[17] << 24)) >>> 0;
  return BMP_HEADER_SIZES.has(headerSize);
}

function isMpegTs(bytes: Uint8Array): boolean {
  // 188-byte packets starting with the 0x47 sync byte; M2TS (Blu-ray, some cameras) prefixes 4 bytes.
  return (bytes.length > 188 && bytes[0] === 0x47 && bytes[188] === 0x47) ||
    (bytes.length > 196 && bytes[4] === 0x47 && bytes[196] === 0x47);
}

/**
 * What the bytes are, from magic numbers (never from a file name or a claimed MIME type). GIF: 'gif'
 * with more than one frame, else 'image'. WebP: 'gif' when animated, else 'image'. JPEG, PNG, BMP,
 * TIFF, AVIF, HEIC: 'image'. MP4/MOV/3GP (ISO-BMFF), WebM/MKV, AVI, MPEG-TS: 'video'. Else undefined.
 */
export function detectMediaKind(bytes: Uint8Array): MediaKind | undefined {
  if (isGif(bytes)) {
    try {
      return readGifTiming(bytes).frames > 1 ? 'gif' : 'image';
    } catch {
      // Cut off before its first frame: the image decoder reports it as a damaged picture.
      return 'image';
    }
  }
  if (ascii(bytes, 0, 4) === 'RIFF' && bytes.length >= 12) {
    const form = ascii(bytes, 8, 12);
    if (form === 'WEBP') return isAnimatedWebp(bytes) ? 'gif' : 'image';
    if (form === 'AVI ') return 'video';
    return undefined;
  }
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'image'; // JPEG
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image'; // PNG
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'image'; // TIFF
  if (isBmp(bytes)) return 'image';
  if (looksLikeIsoBmff(bytes)) return isoBmffKind(bytes);
  if (startsWith(bytes, [0x1a, 0x45, 0xdf, 0xa3])) return 'video'; // EBML: WebM, Matroska
  if (isMpegTs(bytes)) return 'video';
  return undefined;
}
