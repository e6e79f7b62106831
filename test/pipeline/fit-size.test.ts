/**
 * The fit stage with real media: pictures re-encoded (and re-formatted) by sharp, MP4 and GIF by
 * ffmpeg, each checked to be valid, under the limit, and still what it was (audio, duration, frame
 * delays). Plus a real job through `runTask` with `maxBytes`, and the submit-time check of it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitToBytes, type FitInput, type FitResult } from '#src/pipeline/fit-size.ts';
import { MediaPipeline } from '#src/pipeline/media/media-pipeline.ts';
import { readGifTiming } from '#src/pipeline/media/animation-timing.ts';
import { liveFfmpegProcesses } from '#src/pipeline/media/ffmpeg.ts';
import { probeMedia } from '#src/pipeline/media/probe.ts';
import { runTask } from '#src/queue/job-runner.ts';
import type { JobRequest } from '#src/queue/types.ts';
import { validateRequest } from '#src/queue/validate.ts';
import { rejection } from '../helpers/errors.ts';
import { config, fixture, fixturePath, sharedAnimefier } from '../helpers/fixtures.ts';
import { hasEncoder, makeMedia, paths } from '../helpers/make-media.ts';

const KB = 1024;
let tempRoot: string;
let scratch: string;

beforeAll(() => {
  tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'animefy-fit-temp-'));
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'animefy-fit-test-'));
});
afterAll(() => {
  fs.rmSync(tempRoot, { recursive: true, force: true });
  fs.rmSync(scratch, { recursive: true, force: true });
});

function fit(input: FitInput, maxBytes: number, extra: { signal?: AbortSignal } = {}) {
  return fitToBytes(input, { maxBytes, ffmpeg: paths, tempRoot, ...extra });
}

async function picture(data: Buffer): Promise<FitInput> {
  const meta = await sharp(data).metadata();
  return { data, format: meta.format, width: meta.width!, height: meta.height! };
}

/** Random RGB noise: the worst case for every codec. */
function noise(width: number, height: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(width * height * 3);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

async function probeBytes(data: Buffer, name: string) {
  const file = path.join(scratch, name);
  fs.writeFileSync(file, data);
  return probeMedia(paths, file);
}

describe('fitToBytes: pictures', () => {
  it('returns a result that already fits untouched, without a note', async () => {
    const input = await picture(fixture('landscape_1.jpg'));
    const result = await fit(input, input.data.byteLength);
    expect(result.data).toBe(input.data);
    expect(result).toMatchObject({ format: 'jpeg', mime: 'image/jpeg', width: input.width, height: input.height });
    expect(result.note).toBeUndefined();
  });

  it('squeezes a big JPEG under the limit: a valid, smaller JPEG with a note', async () => {
    const data = await sharp(noise(3000, 2000), { raw: { width: 3000, height: 2000, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
    expect(data.byteLength).toBeGreaterThan(3 * 1024 * KB);
    const limit = 300 * KB;
    const result = await fit({ data, format: 'jpeg', width: 3000, height: 2000 }, limit);
    expect(result.data.byteLength).toBeLessThanOrEqual(limit);
    const meta = await sharp(result.data).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: result.width, height: result.height });
    expect(result.width / result.height).toBeCloseTo(1.5, 1);
    expect(Math.max(result.width, result.height)).toBeGreaterThanOrEqual(256);
    expect(result.mime).toBe('image/jpeg');
    expect(result.note).toMatch(/^I made the result smaller \(\d+ KB\) to fit the 300 KB upload limit\.$/);
  });

  it('turns an opaque PNG photo into a JPEG, and says so', async () => {
    const data = await sharp(fixture('landscape_1.jpg')).resize(1536).png().toBuffer();
    const limit = 300 * KB;
    expect(data.byteLength).toBeGreaterThan(limit);
    const result = await fit(await picture(data), limit);
    expect(result).toMatchObject({ format: 'jpeg', mime: 'image/jpeg' });
    expect(result.data.byteLength).toBeLessThanOrEqual(limit);
    expect((await sharp(result.data).metadata()).format).toBe('jpeg');
    expect(result.note).toMatch(/as a JPEG \(\d+ KB\) to fit the 300 KB upload limit/);
  });

  it('keeps the transparency of a PNG with alpha by making it a WebP', async () => {
    // A photo cut out in an ellipse: transparency that matters, too many colours for a palette PNG.
    const { data: rgb, info } = await sharp(fixture('landscape_1.jpg')).resize(1200).raw().toBuffer({ resolveWithObject: true });
    const { width, height } = info;
    const rgba = Buffer.alloc(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const p = y * width + x;
        const inside = ((x - width / 2) / (width / 2)) ** 2 + ((y - height / 2) / (height / 2)) ** 2 <= 1;
        rgb.copy(rgba, p * 4, p * 3, p * 3 + 3);
        rgba[p * 4 + 3] = inside ? 255 : 0;
      }
    }
    const data = await sharp(rgba, { raw: { width, height, channels: 4 } }).png().toBuffer();
    const limit = 150 * KB;
    expect(data.byteLength).toBeGreaterThan(4 * limit);
    const result = await fit({ data, format: 'png', width, height }, limit);
    expect(result).toMatchObject({ format: 'webp', mime: 'image/webp' });
    expect(result.data.byteLength).toBeLessThanOrEqual(limit);
    expect(result.note).toMatch(/as a WebP/);
    const decoded = await sharp(result.data).raw().toBuffer({ resolveWithObject: true });
    expect(decoded.info.channels).toBe(4);
    const alphaAt = (fx: number, fy: number) =>
      decoded.data[(Math.floor(fy * decoded.info.height) * decoded.info.width + Math.floor(fx * decoded.info.width)) * 4 + 3];
    expect(alphaAt(0.01, 0.01)).toBe(0); // corner: cut away
    expect(alphaAt(0.5, 0.5)).toBe(255); // centre: the photo
  });

  it('keeps a PNG whose transparency matters as a PNG when a palette PNG fits', async () => {
    const input = await picture(fixture('anime_fullbody_1.png'));
    expect((await sharp(input.data).stats()).isOpaque).toBe(false);
    const limit = Math.round(input.data.byteLength * 0.7);
    const result = await fit(input, limit);
    expect(result).toMatchObject({ format: 'png', mime: 'image/png', width: input.width, height: input.height });
    expect(result.data.byteLength).toBeLessThanOrEqual(limit);
    const meta = await sharp(result.data).metadata();
    expect(meta).toMatchObject({ format: 'png', hasAlpha: true, isPalette: true });
    expect(result.note).toMatch(/^I made the result smaller/);
  });

  it('throws RESULT_TOO_LARGE when even the smallest allowed picture is too big', async () => {
    const data = await sharp(noise(300, 300), { raw: { width: 300, height: 300, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
    const err = await rejection(fit({ data, format: 'jpeg', width: 300, height: 300 }, 8 * KB));
    expect(err.code).toBe('RESULT_TOO_LARGE');
    expect(err.message).toContain('over 8 KB');
  });

  it('throws CANCELLED when the signal has fired', async () => {
    const data = await sharp(fixture('landscape_1.jpg')).png().toBuffer();
    const controller = new AbortController();
    controller.abort();
    const err = await rejection(fit(await picture(data), 64 * KB, { signal: controller.signal }));
    expect(err.code).toBe('CANCELLED');
  });
});

/** A re-encoded clip: under the limit, the expected codecs, its sound kept, its length within 0.2 s. */
async function expectSqueezedClip(
  result: FitResult,
  limit: number,
  before: { duration: number },
  expected: { format: string; mime: string; video: string; audio: string },
) {
  expect(result).toMatchObject({ format: expected.format, mime: expected.mime });
  expect(result.data.byteLength).toBeLessThanOrEqual(limit);
  const after = await probeBytes(result.data, `after.${expected.format}`);
  expect(after.videoCodec).toBe(expected.video);
  expect(after.audio?.codec).toBe(expected.audio);
  expect(Math.abs(after.duration - before.duration)).toBeLessThanOrEqual(0.2);
  return after;
}

describe('fitToBytes: video and GIF', () => {
  it('squeezes an MP4 to well below its size, keeping its sound and its length', async () => {
    const data = fixture('talking_clip.mp4');
    const before = await probeBytes(data, 'before.mp4');
    const limit = 40 * KB; // about half of it; AAC at 96k alone would take 36 KB of 3 s
    expect(data.byteLength).toBeGreaterThan(1.5 * limit);
    const started = performance.now();
    const result = await fit({ data, format: 'mp4', width: 160, height: 120 }, limit);
    const ms = performance.now() - started;
    const after = await expectSqueezedClip(result, limit, before, { format: 'mp4', mime: 'video/mp4', video: 'h264', audio: 'aac' });
    expect([after.width, after.height]).toEqual([result.width, result.height]);
    expect(result.note).toMatch(/smaller \(\d+ KB\) to fit the 40 KB upload limit/);
    expect(fs.readdirSync(tempRoot)).toEqual([]);
    console.info(`fit MP4 ${data.byteLength} → ${result.data.byteLength} bytes (${result.width}x${result.height}) in ${Math.round(ms)} ms`);
  });

  it('squeezes a WebM, keeping its Opus sound', async (context) => {
    if (!(await hasEncoder('libvpx-vp9')) || !(await hasEncoder('libopus'))) return context.skip();
    const file = await makeMedia(scratch, 'clip.webm', [
      '-i', fixturePath('talking_clip.mp4'), '-c:v', 'libvpx-vp9', '-b:v', '0', '-crf', '20', '-deadline', 'realtime', '-cpu-used', '8', '-c:a', 'libopus', '-b:a', '96k',
    ]);
    const data = fs.readFileSync(file);
    const before = await probeMedia(paths, file);
    const limit = Math.round(data.byteLength * 0.4);
    const result = await fit({ data, format: 'webm', width: before.width, height: before.height }, limit);
    await expectSqueezedClip(result, limit, before, { format: 'webm', mime: 'video/webm', video: 'vp9', audio: 'opus' });
  });

  it('squeezes a GIF under the limit with the same frames, delays and loop', async () => {
    const data = fixture('face_clip.gif');
    const before = readGifTiming(data);
    const limit = 300 * KB;
    const started = performance.now();
    const result = await fit({ data, format: 'gif', width: before.width, height: before.height }, limit);
    const ms = performance.now() - started;
    expect(result).toMatchObject({ format: 'gif', mime: 'image/gif' });
    expect(result.data.byteLength).toBeLessThanOrEqual(limit);
    const after = readGifTiming(result.data);
    expect(after.frames).toBe(before.frames);
    expect(after.delays).toEqual(before.delays);
    expect(after.loop).toBe(before.loop);
    expect([after.width, after.height]).toEqual([result.width, result.height]);
    expect(Math.max(result.width, result.height)).toBeGreaterThanOrEqual(128);
    const meta = await sharp(result.data, { animated: true }).metadata();
    expect(meta).toMatchObject({ format: 'gif', pages: before.frames });
    expect(fs.readdirSync(tempRoot)).toEqual([]);
    console.info(`fit GIF ${data.byteLength} → ${result.data.byteLength} bytes (${result.width}x${result.height}) in ${Math.round(ms)} ms`);
  });

  it('throws RESULT_TOO_LARGE for a GIF that cannot fit at 128 px, and leaves no files behind', async () => {
    const err = await rejection(fit({ data: fixture('face_clip.gif'), format: 'gif', width: 320, height: 180 }, 64 * KB));
    expect(err.code).toBe('RESULT_TOO_LARGE');
    expect(fs.readdirSync(tempRoot)).toEqual([]);
  });

  it('throws CANCELLED when the job is cancelled while ffmpeg works', async () => {
    const controller = new AbortController();
    const work = fit({ data: fixture('face_clip.gif'), format: 'gif', width: 320, height: 180 }, 100 * KB, { signal: controller.signal });
    // Abort as soon as an ffmpeg is running (whatever the machine's speed).
    const watch = setInterval(() => liveFfmpegProcesses() > 0 && controller.abort(), 2);
    try {
      expect((await rejection(work)).code).toBe('CANCELLED');
    } finally {
      clearInterval(watch);
    }
    expect(controller.signal.aborted).toBe(true);
    expect(liveFfmpegProcesses()).toBe(0);
    expect(fs.readdirSync(tempRoot)).toEqual([]);
  });
});

describe('maxBytes on a job', () => {
  it('runTask makes a real result fit, with a note and its time', async () => {
    const animefier = sharedAnimefier();
    const media = new MediaPipeline(animefier, { ...MediaPipeline.fromConfig(config, animefier).settings, tempDir: tempRoot });
    const input = await sharp(fixture('portrait_frontal_1.jpg')).resize(640, 640).jpeg().toBuffer();
    const options = { style: 'hayao', mode: 'full', upscale: 1, quality: 'fast', format: 'png' } as const;
    const plain = await runTask({ image: animefier, media }, { id: 'a', input, kind: 'image', options });
    const limit = 96 * KB;
    expect(plain.data.byteLength).toBeGreaterThan(limit);
    const fitted = await runTask({ image: animefier, media }, { id: 'b', input, kind: 'image', options: { ...options, maxBytes: limit } });
    expect(fitted.data.byteLength).toBeLessThanOrEqual(limit);
    expect(fitted).toMatchObject({ format: 'jpeg', mime: 'image/jpeg', kind: 'image' });
    expect((await sharp(fitted.data).metadata()).format).toBe('jpeg');
    expect(fitted.notes.at(-1)).toMatch(/as a JPEG .* to fit the 96 KB upload limit/);
    expect(fitted.timings.fit).toBeGreaterThanOrEqual(0);
    expect(plain.timings.fit).toBeUndefined();
  });

  it('is refused at submit unless it is a whole number of bytes of at least 64 KB', () => {
    const request = (maxBytes: number): JobRequest => ({
      input: Buffer.from([1, 2, 3]),
      kind: 'image',
      options: { style: 'hayao', mode: 'full', upscale: 1, quality: 'fast', maxBytes },
      requester: { platform: 'test', userId: 'u1' },
    });
    const limits = { maxInputBytes: 1024 * KB };
    for (const bad of [0, -1, 1000, 64 * KB - 1, 100_000.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => validateRequest(request(bad), limits), String(bad)).toThrow(expect.objectContaining({ code: 'BAD_OPTION', message: expect.stringContaining('64 KB') }));
    }
    expect(() => validateRequest(request(64 * KB), limits)).not.toThrow();
    expect(() => validateRequest(request(50 * 1024 * KB), limits)).not.toThrow();
  });
});
