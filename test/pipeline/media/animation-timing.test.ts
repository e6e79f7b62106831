/**
 * GIF and animated WebP timing, read from the bytes (and for GIF written back), on the fixture GIF,
 * GIFs written by ffmpeg, hand-built GIFs and WebPs written by sharp.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnimefyError } from '#src/errors.ts';
import { readGifTiming, readWebpTiming, writeGifTiming } from '#src/pipeline/media/animation-timing.ts';
import { probeMedia } from '#src/pipeline/media/probe.ts';
import { fixture } from '../../helpers/fixtures.ts';
import { makeMedia, paths, scratchDir, tinyGif } from '../../helpers/make-media.ts';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return err instanceof AnimefyError ? err.code : (err as Error).name;
  }
  return undefined;
}

let dir: string;
beforeAll(async () => {
  dir = await scratchDir();
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('readGifTiming', () => {
  it('reads the fixture: 320x180, 30 frames of 100 ms, loops forever', () => {
    const timing = readGifTiming(fixture('face_clip.gif'));
    expect(timing).toEqual({ width: 320, height: 180, frames: 30, delays: new Array(30).fill(100), loop: 0 });
  });

  it('walks a 10,000-frame GIF quickly', async () => {
    const gif = tinyGif(10_000, { delayCs: 4, loop: 7 });
    const started = performance.now();
    const timing = readGifTiming(gif);
    expect(performance.now() - started).toBeLessThan(200);
    expect(timing.frames).toBe(10_000);
    expect(timing.delays.every((d) => d === 40)).toBe(true);
    expect([timing.width, timing.height, timing.loop]).toEqual([1, 1, 7]);
  });

  it('the hand-built GIF is a valid GIF for other readers too', async () => {
    const meta = await sharp(tinyGif(3)).metadata();
    expect([meta.format, meta.pages, meta.width, meta.height]).toEqual(['gif', 3, 1, 1]);
  });

  it('no loop extension is null, no GCE is a 0 ms delay', () => {
    const timing = readGifTiming(tinyGif(2, { delayCs: null }));
    expect([timing.loop, timing.delays]).toEqual([null, [0, 0]]);
  });

  it('a GIF cut off keeps its complete frames', () => {
    const whole = fixture('face_clip.gif');
    const half = readGifTiming(whole.subarray(0, Math.floor(whole.length / 2)));
    expect(half.frames).toBeGreaterThan(0);
    expect(half.frames).toBeLessThan(30);
    expect(half.delays).toEqual(new Array(half.frames).fill(100));
    // Without the trailer every frame is still complete.
    expect(readGifTiming(whole.subarray(0, whole.length - 1)).frames).toBe(30);
    // A hand-built one cut inside its third frame has two.
    const tiny = tinyGif(5);
    expect(readGifTiming(tiny.subarray(0, 13 + 6 + 2 * 23 + 10)).frames).toBe(2);
  });

  it('a GIF cut off or broken before its first frame is CORRUPT_VIDEO', () => {
    const whole = fixture('face_clip.gif');
    expect(codeOf(() => readGifTiming(whole.subarray(0, 10)))).toBe('CORRUPT_VIDEO');
    expect(codeOf(() => readGifTiming(whole.subarray(0, 100)))).toBe('CORRUPT_VIDEO');
    const tiny = tinyGif(1);
    expect(codeOf(() => readGifTiming(tiny.subarray(0, tiny.length - 3)))).toBe('CORRUPT_VIDEO');
    const broken = Buffer.from(tiny);
    broken[13 + 6] = 0x99; // not a block introducer where the first extension should start
    expect(codeOf(() => readGifTiming(broken))).toBe('CORRUPT_VIDEO');
  });

  it('anything but a GIF is NOT_A_VIDEO', () => {
    expect(codeOf(() => readGifTiming(fixture('portrait_frontal_1.jpg')))).toBe('NOT_A_VIDEO');
    expect(codeOf(() => readGifTiming(new Uint8Array(0)))).toBe('NOT_A_VIDEO');
  });
});

describe('writeGifTiming', () => {
  it('sets delays and loop on a GIF written by ffmpeg, which ffprobe still reads', async () => {
    const file = await makeMedia(dir, 'three.gif', ['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-frames:v', '3']);
    const original = await fs.readFile(file);
    expect(readGifTiming(original).frames).toBe(3);

    const patched = writeGifTiming(original, [50, 120, 300], 3);
    const timing = readGifTiming(patched);
    expect(timing).toEqual({ width: 64, height: 48, frames: 3, delays: [50, 120, 300], loop: 3 });

    const out = path.join(dir, 'patched.gif');
    await fs.writeFile(out, patched);
    const info = await probeMedia(paths, out);
    expect([info.frames, info.width, info.height]).toEqual([3, 64, 48]);
    expect(info.duration).toBeCloseTo(0.47, 2);
    const meta = await sharp(patched).metadata();
    // libvips counts plays: a stored NETSCAPE loop count of 3 (repeats) is 4 plays.
    expect([meta.pages, meta.loop, meta.delay]).toEqual([3, 4, [50, 120, 300]]);
  });

  it('rounds to centiseconds, removes the loop extension for null and replaces an existing one', () => {
    const gif = tinyGif(2, { loop: 0 });
    const once = readGifTiming(writeGifTiming(gif, [33, 1234], null));
    expect([once.delays, once.loop]).toEqual([[30, 1230], null]);
    const looped = writeGifTiming(gif, [10, 10], 5);
    expect(readGifTiming(looped).loop).toBe(5);
    expect(looped.indexOf('NETSCAPE2.0')).toBe(looped.lastIndexOf('NETSCAPE2.0'));
  });

  it('inserts a Graphic Control Extension where a frame has none', async () => {
    const gif = tinyGif(3, { delayCs: null });
    const patched = writeGifTiming(gif, [70, 80, 90], 0);
    expect(readGifTiming(patched)).toEqual({ width: 1, height: 1, frames: 3, delays: [70, 80, 90], loop: 0 });
    expect((await sharp(patched).metadata()).delay).toEqual([70, 80, 90]);
  });

  it('throws when the frame count differs from the delays', () => {
    expect(codeOf(() => writeGifTiming(tinyGif(3), [100, 100], 0))).toBe('RangeError');
    expect(codeOf(() => writeGifTiming(Buffer.from('not a gif'), [], 0))).toBe('NOT_A_VIDEO');
  });
});

describe('readWebpTiming', () => {
  const width = 16;
  const height = 12;

  async function animatedWebp(delays: number[], loop: number): Promise<Buffer> {
    const n = delays.length;
    const raw = Buffer.alloc(width * height * n * 3);
    for (let f = 0; f < n; f++) raw.fill(40 + f * 60, f * width * height * 3, (f + 1) * width * height * 3);
    return sharp(raw, { raw: { width, height: height * n, channels: 3, pageHeight: height } })
      .webp({ delay: delays, loop, lossless: true })
      .toBuffer();
  }

  it('reads canvas, per-frame durations and loop of an animated WebP', async () => {
    const webp = await animatedWebp([40, 80, 120], 2);
    expect(readWebpTiming(webp)).toEqual({ width, height, frames: 3, delays: [40, 80, 120], loop: 2 });
  });

  it('is undefined for a still WebP and for other formats', async () => {
    const still = await sharp({ create: { width, height, channels: 3, background: '#808080' } }).webp().toBuffer();
    expect(readWebpTiming(still)).toBeUndefined();
    expect(readWebpTiming(fixture('face_clip.gif'))).toBeUndefined();
    expect(readWebpTiming(new Uint8Array(4))).toBeUndefined();
  });

  it('a WebP cut off keeps its complete frames; none is CORRUPT_VIDEO', async () => {
    const webp = await animatedWebp([40, 80, 120], 0);
    const cut = readWebpTiming(webp.subarray(0, webp.length - 5));
    expect(cut?.delays).toEqual([40, 80]);
    expect(codeOf(() => readWebpTiming(webp.subarray(0, 50)))).toBe('CORRUPT_VIDEO');
  });
});
