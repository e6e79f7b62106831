/**
 * detectMediaKind from magic numbers: fixtures, images written by sharp, videos written by ffmpeg.
 */
import fs from 'node:fs/promises';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectMediaKind, looksLikeIsoBmff } from '#src/pipeline/media/sniff.ts';
import { fixture } from '../../helpers/fixtures.ts';
import { hasEncoder, makeMedia, makeMp4, scratchDir } from '../../helpers/make-media.ts';

/** The WebM case is skipped (and reported as skipped) on an ffmpeg built without libvpx-vp9. */
const HAS_VP9 = await hasEncoder('libvpx-vp9');

const TESTSRC = ['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10'];

let dir: string;
beforeAll(async () => {
  dir = await scratchDir();
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function solid(): Sharp {
  return sharp({ create: { width: 16, height: 12, channels: 3, background: '#3080c0' } });
}

describe('detectMediaKind', () => {
  it('knows the fixtures', () => {
    expect(detectMediaKind(fixture('face_clip.gif'))).toBe('gif');
    expect(detectMediaKind(fixture('talking_clip.mp4'))).toBe('video');
    expect(detectMediaKind(fixture('portrait_frontal_1.jpg'))).toBe('image');
    expect(detectMediaKind(fixture('anime_face_1.png'))).toBe('image');
  });

  it('a GIF with one frame is an image, a GIF cut before its first frame too', async () => {
    const still = await solid().gif().toBuffer();
    expect(detectMediaKind(still)).toBe('image');
    const oneFrame = await fs.readFile(await makeMedia(dir, 'one.gif', [...TESTSRC, '-frames:v', '1']));
    expect(detectMediaKind(oneFrame)).toBe('image');
    expect(detectMediaKind(fixture('face_clip.gif').subarray(0, 100))).toBe('image');
  });

  it('images written by sharp: PNG, JPEG, TIFF, still WebP, AVIF', async () => {
    expect(detectMediaKind(await solid().png().toBuffer())).toBe('image');
    expect(detectMediaKind(await solid().jpeg().toBuffer())).toBe('image');
    expect(detectMediaKind(await solid().tiff().toBuffer())).toBe('image');
    expect(detectMediaKind(await solid().webp().toBuffer())).toBe('image');
    const avif = await solid().avif().toBuffer();
    expect(looksLikeIsoBmff(avif)).toBe(true);
    expect(detectMediaKind(avif)).toBe('image');
  });

  it('an animated WebP goes with GIFs', async () => {
    const raw = Buffer.alloc(16 * 12 * 2 * 3);
    raw.fill(200, raw.length / 2);
    const webp = await sharp(raw, { raw: { width: 16, height: 24, channels: 3, pageHeight: 12 } })
      .webp({ delay: [100, 100], loop: 0 })
      .toBuffer();
    expect(detectMediaKind(webp)).toBe('gif');
  });

  it('BMP and HEIC by their headers', () => {
    const bmp = Buffer.alloc(54);
    bmp.write('BM', 0, 'latin1');
    bmp.writeUInt32LE(40, 14);
    expect(detectMediaKind(bmp)).toBe('image');
    const heic = Buffer.alloc(24);
    heic.writeUInt32BE(24, 0);
    heic.write('ftypheic', 4, 'latin1');
    heic.write('mif1heic', 16, 'latin1');
    expect(detectMediaKind(heic)).toBe('image');
  });

  it('videos written by ffmpeg: MP4, MOV, AVI, MPEG-TS', async () => {
    expect(detectMediaKind(await fs.readFile(await makeMp4(dir)))).toBe('video');
    for (const name of ['clip.mov', 'clip.avi', 'clip.ts']) {
      const file = await makeMedia(dir, name, [...TESTSRC, '-t', '0.5', '-pix_fmt', 'yuv420p', '-c:v', 'mpeg4']);
      expect(detectMediaKind(await fs.readFile(file)), name).toBe('video');
    }
  });

  it.skipIf(!HAS_VP9)('WebM (VP9)', async () => {
    const webm = await makeMedia(dir, 'clip.webm', [...TESTSRC, '-t', '0.5', '-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8']);
    expect(detectMediaKind(await fs.readFile(webm))).toBe('video');
  });

  it('junk, text and nothing are undefined', () => {
    const junk = Buffer.alloc(4096);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 2654435761) >>> 24;
    expect(detectMediaKind(junk)).toBeUndefined();
    expect(detectMediaKind(Buffer.from('<!doctype html><html><body>hello</body></html>'))).toBeUndefined();
    expect(detectMediaKind(Buffer.from('RIFF\x10\x00\x00\x00WAVEfmt ', 'latin1'))).toBeUndefined();
    expect(detectMediaKind(new Uint8Array(0))).toBeUndefined();
  });
});
