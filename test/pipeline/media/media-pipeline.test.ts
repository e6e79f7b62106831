/**
 * GIF and video end to end on the real fixtures and real models: frame counts, delays, loop, size,
 * frame rate, duration, audio, a valid fast-start MP4, the flicker index measured on the decoded files,
 * and typed errors for bad input with no temporary file or ffmpeg process left behind.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '#src/errors.ts';
import { MediaPipeline, mediaSettingsFromConfig, type MediaRequest, type MediaResult, type MediaSettings } from '#src/pipeline/media/media-pipeline.ts';
import sharp from 'sharp';
import { readGifTiming, readWebpTiming, writeGifTiming } from '#src/pipeline/media/animation-timing.ts';
import { liveFfmpegProcesses, passthroughArgs } from '#src/pipeline/media/ffmpeg.ts';
import { openWithFfmpeg } from '#src/pipeline/media/source.ts';
import { rejection } from '../../helpers/errors.ts';
import { config, fixture, fixturePath, sharedAnimefier } from '../../helpers/fixtures.ts';
import { paths, tinyGif } from '../../helpers/make-media.ts';

/** This ffmpeg's options for "every frame as stored" (the npm package's 2018 build has no -fps_mode). */
const passthrough = await passthroughArgs(paths.ffmpeg);

const tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'animefy-media-test-'));
const jobTemp = path.join(tempRoot, 'jobs');
fs.mkdirSync(jobTemp);
let media: MediaPipeline;

const request: MediaRequest = { style: 'hayao', mode: 'full', quality: 'fast' };

beforeAll(() => {
  media = new MediaPipeline(sharedAnimefier(), { ...mediaSettingsFromConfig(config), tempDir: jobTemp });
});
afterAll(() => {
  fs.rmSync(tempRoot, { recursive: true, force: true });
});

interface StreamInfo {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  r_frame_rate?: string;
  nb_read_frames?: string;
  duration?: string;
}

/** ffprobe, counting decoded frames (independent of the code under test). */
function ffprobe(file: string): { streams: StreamInfo[]; format: { duration: string; format_name: string } } {
  const out = execFileSync(paths.ffprobe, ['-v', 'error', '-count_frames', '-print_format', 'json', '-show_streams', '-show_format', file]);
  return JSON.parse(out.toString());
}

function write(name: string, data: Uint8Array): string {
  const file = path.join(tempRoot, name);
  fs.writeFileSync(file, data);
  return file;
}

/** Every frame of a file as raw RGB at a given size, decoded by ffmpeg. */
function decodeFrames(file: string, width: number, height: number): Buffer[] {
  const raw = execFileSync(paths.ffmpeg, ['-v', 'error', '-i', file, ...passthrough, '-vf', `scale=${width}:${height}:flags=area`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
    maxBuffer: 1 << 30,
  });
  const size = width * height * 3;
  const frames: Buffer[] = [];
  for (let i = 0; i + size <= raw.length; i += size) frames.push(raw.subarray(i, i + size));
  return frames;
}

function meanChange(frames: Buffer[]): number {
  let total = 0;
  for (let f = 1; f < frames.length; f++) {
    let sum = 0;
    for (let i = 0; i < frames[f].length; i++) sum += Math.abs(frames[f][i] - frames[f - 1][i]);
    total += sum / frames[f].length;
  }
  return total / (frames.length - 1);
}

/** Flicker index from the files: output change between frames over input change. */
function flickerOfFiles(input: string, output: string, width: number, height: number): number {
  return meanChange(decodeFrames(output, width, height)) / meanChange(decodeFrames(input, width, height));
}

function rate(fraction: string): number {
  const [n, d] = fraction.split('/').map(Number);
  return n / (d || 1);
}

function expectNothingLeft(): void {
  expect(liveFfmpegProcesses()).toBe(0);
  expect(fs.readdirSync(jobTemp)).toEqual([]);
}

describe('GIF', () => {
  let gif: MediaResult;
  let mp4: MediaResult;
  const progress: { stage: string; frame?: number; frames?: number }[] = [];

  beforeAll(async () => {
    gif = await media.animefy(fixture('face_clip.gif'), { ...request, onProgress: (e) => progress.push(e) });
    mp4 = await media.animefy(fixture('face_clip.gif'), { ...request, format: 'mp4' });
  });

  it('comes back as a GIF with the same frame count, delays, loop and size', () => {
    expect(gif.format).toBe('gif');
    expect(gif.mime).toBe('image/gif');
    const source = readGifTiming(fixture('face_clip.gif'));
    const timing = readGifTiming(gif.data);
    expect(timing.frames).toBe(source.frames);
    expect(timing.delays).toEqual(source.delays);
    expect(timing.loop).toBe(source.loop);
    expect([timing.width, timing.height]).toEqual([320, 180]);
    const probe = ffprobe(write('out.gif', gif.data));
    expect(Number(probe.streams[0].nb_read_frames)).toBe(30);
    expect(gif.media.frames).toBe(30);
    expect(gif.faces).toBeGreaterThanOrEqual(1);
    expect(gif.stylizedFaces).toBeGreaterThanOrEqual(1);
  });

  it('reports progress frame by frame', () => {
    const frames = progress.filter((e) => e.stage === 'frames');
    expect(frames.map((e) => e.frame)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(frames.every((e) => e.frames === 30)).toBe(true);
    expect(progress.at(-1)).toMatchObject({ stage: 'encode', percent: 100 });
  });

  it('converts to an H.264 MP4 (yuv420p, fast start) of the same length', () => {
    expect(mp4.format).toBe('mp4');
    const file = write('gif.mp4', mp4.data);
    const probe = ffprobe(file);
    const video = probe.streams.find((s) => s.codec_type === 'video')!;
    expect(video.codec_name).toBe('h264');
    expect(video.pix_fmt).toBe('yuv420p');
    expect([video.width, video.height]).toEqual([320, 180]);
    expect(Number(video.nb_read_frames)).toBe(30);
    expect(Number(probe.format.duration)).toBeCloseTo(3, 1);
    expect(probe.streams.some((s) => s.codec_type === 'audio')).toBe(false);
    // fast start: the index (moov) comes before the media data (mdat)
    expect(mp4.data.indexOf('moov')).toBeLessThan(mp4.data.indexOf('mdat'));
    expect(mp4.data.length).toBeLessThan(gif.data.length);
  });

  it('does not flicker: flicker index of the decoded GIF ≤ 1.3', () => {
    const index = flickerOfFiles(fixturePath('face_clip.gif'), write('flicker.gif', gif.data), 320, 180);
    expect(index).toBeLessThanOrEqual(1.3);
    expect(gif.media.flicker).toBeLessThanOrEqual(1.3);
  });
});

describe('video', () => {
  let result: MediaResult;

  beforeAll(async () => {
    result = await media.animefy(fixture('talking_clip.mp4'), request);
  });

  it('comes back as an MP4 with the same frame rate, duration (±1 frame) and an audio stream', () => {
    expect(result.format).toBe('mp4');
    const probe = ffprobe(write('talking.mp4', result.data));
    const video = probe.streams.find((s) => s.codec_type === 'video')!;
    const audio = probe.streams.find((s) => s.codec_type === 'audio');
    expect(video.codec_name).toBe('h264');
    expect(video.pix_fmt).toBe('yuv420p');
    expect([video.width, video.height]).toEqual([160, 120]);
    expect(rate(video.r_frame_rate!)).toBeCloseTo(15, 2);
    expect(Math.abs(Number(video.nb_read_frames) - 45)).toBeLessThanOrEqual(1);
    expect(Math.abs(Number(video.duration) - 3)).toBeLessThanOrEqual(1 / 15 + 1e-3);
    expect(audio?.codec_name).toBe('aac');
    expect(Math.abs(Number(audio!.duration) - 3)).toBeLessThan(0.1);
    expect(result.media).toMatchObject({ frames: 45, hasAudio: true });
    expect(result.faces).toBeGreaterThanOrEqual(1);
  });

  it('does not flicker: flicker index of the decoded MP4 ≤ 1.3', () => {
    const index = flickerOfFiles(fixturePath('talking_clip.mp4'), write('flicker.mp4', result.data), 160, 120);
    expect(index).toBeLessThanOrEqual(1.3);
  });

  it('makes WebM (VP9 + Opus) when asked', async () => {
    // the first second of the clip keeps this quick
    const short = path.join(tempRoot, 'short.mp4');
    execFileSync(paths.ffmpeg, ['-v', 'error', '-i', fixturePath('talking_clip.mp4'), '-t', '1', '-c:v', 'libx264', '-c:a', 'aac', '-y', short]);
    const webm = await media.animefy(fs.readFileSync(short), { ...request, format: 'webm' });
    expect(webm.mime).toBe('video/webm');
    const probe = ffprobe(write('short.webm', webm.data));
    expect(probe.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('vp9');
    expect(probe.streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('opus');
    expect(Number(probe.format.duration)).toBeCloseTo(1, 0);
  });
});

describe('other inputs', () => {
  /** Six real frames of the GIF fixture, halved to 160x90 (quick to stylize), as raw RGB. */
  function gifFrames(count: number): Buffer[] {
    return decodeFrames(fixturePath('face_clip.gif'), 160, 90).slice(0, count);
  }

  it('a GIF with uneven delays and a loop count keeps both; as MP4 it lasts as long', async () => {
    const frames = gifFrames(4);
    const plain = path.join(tempRoot, 'uneven-src.gif');
    const raw = path.join(tempRoot, 'uneven.rgb');
    fs.writeFileSync(raw, Buffer.concat(frames));
    execFileSync(paths.ffmpeg, ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', '160x90', '-framerate', '10', '-i', raw, plain]);
    const delays = [50, 120, 300, 80];
    const input = writeGifTiming(fs.readFileSync(plain), delays, 3);
    const gif = await media.animefy(input, request);
    const timing = readGifTiming(gif.data);
    expect(timing.delays).toEqual(delays);
    expect(timing.loop).toBe(3);
    expect([timing.width, timing.height]).toEqual([160, 90]);
    const mp4 = await media.animefy(input, { ...request, format: 'mp4' });
    const probe = ffprobe(write('uneven.mp4', mp4.data));
    expect(Number(probe.format.duration)).toBeCloseTo(0.55, 1);
    expect(mp4.media.duration).toBeCloseTo(0.55, 2);
  });

  it('an animated WebP comes back as a GIF with its frames and delays', async () => {
    const frames = gifFrames(5);
    const stacked = Buffer.concat(frames);
    const delays = [100, 100, 200, 100, 150];
    const webp = await sharp(stacked, { raw: { width: 160, height: 90 * frames.length, channels: 3, pageHeight: 90 } })
      .webp({ delay: delays, loop: 0, quality: 90 })
      .toBuffer();
    expect(readWebpTiming(webp)?.frames).toBe(5);
    const gif = await media.animefy(webp, request);
    const timing = readGifTiming(gif.data);
    expect(timing.frames).toBe(5);
    expect(timing.delays).toEqual(delays);
    expect(timing.loop).toBe(0);
    expect([gif.width, gif.height]).toEqual([160, 90]);
  });

  it('a WebM with alpha (a Telegram video sticker) has its transparent parts flattened onto white', async () => {
    // A 128x128 VP9 clip: a transparent background stored as black, a moving opaque photo square.
    const source = path.join(tempRoot, 'sticker.webm');
    execFileSync(paths.ffmpeg, [
      '-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=black@0.0:s=128x128:r=10:d=0.5,format=rgba',
      '-loop', '1', '-t', '0.5', '-i', fixturePath('portrait_frontal_1.jpg'),
      '-filter_complex', '[1:v]scale=64:64,format=rgba[p];[0:v][p]overlay=x=32+t*20:y=32:shortest=1',
      '-c:v', 'libvpx-vp9', '-pix_fmt', 'yuva420p', '-auto-alt-ref', '0', '-deadline', 'realtime', source,
    ]);
    const result = await media.animefy(fs.readFileSync(source), request);
    const frame = decodeFrames(write('sticker.mp4', result.data), 128, 128)[0];
    const pixel = (x: number, y: number) => (frame[(y * 128 + x) * 3] + frame[(y * 128 + x) * 3 + 1] + frame[(y * 128 + x) * 3 + 2]) / 3;
    // Corners were transparent: white (black without the alpha); the square's middle stays a picture.
    for (const [x, y] of [[4, 4], [123, 4], [4, 123], [123, 123]]) expect(pixel(x, y)).toBeGreaterThan(200);
    expect(pixel(64, 64)).toBeLessThan(200);
  });

  it('audio that is not AAC is re-encoded to AAC in the MP4', async () => {
    const source = path.join(tempRoot, 'opus.mkv');
    execFileSync(paths.ffmpeg, [
      '-v', 'error', '-y', '-i', fixturePath('talking_clip.mp4'), '-t', '0.6', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'libopus', source,
    ]);
    const result = await media.animefy(fs.readFileSync(source), request);
    const probe = ffprobe(write('opus.mp4', result.data));
    expect(probe.streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac');
    expect(result.media.hasAudio).toBe(true);
  });
});

describe('big pictures are scaled down, not refused', () => {
  /** A pipeline with a small working size (quick to stylize) and, optionally, another decode-work limit. */
  function pipeline(overrides: Partial<MediaSettings> = {}): MediaPipeline {
    return new MediaPipeline(sharedAnimefier(), { ...mediaSettingsFromConfig(config), tempDir: jobTemp, workingSize: 320, ...overrides });
  }

  /** A generated clip; lavfi sources keep it quick to make (1 s at 10 fps). */
  function generate(name: string, args: string[]): string {
    const file = path.join(tempRoot, name);
    execFileSync(paths.ffmpeg, ['-v', 'error', '-y', ...args, file]);
    return file;
  }

  let portrait4k: string;
  beforeAll(() => {
    // A 4K phone video held upright: 2160x3840, with sound.
    portrait4k = generate('portrait-4k.mp4', [
      '-f', 'lavfi', '-i', 'testsrc=size=2160x3840:rate=10:duration=1',
      '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
    ]);
  });

  it('a 2160x3840 video with sound comes back at the working size, with its sound', async () => {
    const source = ffprobe(portrait4k).streams.find((s) => s.codec_type === 'video')!;
    expect([source.width, source.height]).toEqual([2160, 3840]);
    const result = await pipeline().animefy(fs.readFileSync(portrait4k), request);
    expect([result.width, result.height]).toEqual([180, 320]);
    const probe = ffprobe(write('portrait-4k.out.mp4', result.data));
    const video = probe.streams.find((s) => s.codec_type === 'video')!;
    expect([video.width, video.height]).toEqual([180, 320]);
    expect(Number(video.nb_read_frames)).toBe(10);
    const audio = probe.streams.find((s) => s.codec_type === 'audio');
    expect(audio?.codec_name).toBe('aac');
    expect(Math.abs(Number(audio!.duration) - 1)).toBeLessThan(0.1);
    expect(result.media).toMatchObject({ frames: 10, hasAudio: true });
    expectNothingLeft();
  });

  it('a 4K phone video stored sideways (rotated 90°) is decoded upright, scaled to the working size', async () => {
    // 3840x2160 stored: red left half, blue right half; the display matrix turns it a quarter.
    const sideways = generate('sideways.mp4', [
      '-f', 'lavfi', '-i', 'color=c=red:size=1920x2160:rate=5:duration=0.4',
      '-f', 'lavfi', '-i', 'color=c=blue:size=1920x2160:rate=5:duration=0.4',
      '-filter_complex', 'hstack', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
    ]);
    const rotated = generate('rotated.mp4', ['-i', sideways, '-c', 'copy', '-metadata:s:v:0', 'rotate=90']);
    const settings = { ...mediaSettingsFromConfig(config), workingSize: 320 };
    const source = await openWithFfmpeg(settings, rotated, undefined, 'mp4', [], undefined);
    expect([source.width, source.height]).toEqual([180, 320]);
    const frames: Buffer[] = [];
    for await (const frame of source.frames()) frames.push(Buffer.from(frame));
    await source.finished();
    expect(frames).toHaveLength(2);
    // Upright: the halves are now top and bottom (each row one colour), not left and right.
    const pixel = (x: number, y: number) => [...frames[0].subarray((y * 180 + x) * 3, (y * 180 + x) * 3 + 3)];
    const [top, bottom] = [pixel(90, 40), pixel(90, 280)];
    expect(pixel(10, 40)).toEqual(top);
    expect(pixel(170, 40)).toEqual(top);
    const colour = (rgb: number[]) => (rgb[0] > 200 && rgb[2] < 60 ? 'red' : rgb[2] > 200 && rgb[0] < 60 ? 'blue' : 'other');
    expect([colour(top), colour(bottom)].sort()).toEqual(['blue', 'red']);
    expect(liveFfmpegProcesses()).toBe(0);
  });

  it('a large-resolution GIF comes back as a GIF at the working size, every frame and delay kept', async () => {
    const big = generate('big.gif', ['-f', 'lavfi', '-i', 'testsrc=size=1600x1200:rate=10', '-frames:v', '3']);
    const input = writeGifTiming(fs.readFileSync(big), [100, 200, 100], 0);
    const gif = await pipeline().animefy(input, request);
    const timing = readGifTiming(gif.data);
    expect([timing.width, timing.height]).toEqual([320, 240]);
    expect(timing.delays).toEqual([100, 200, 100]);
    expectNothingLeft();
  });

  it('past the decode-work limit (pixels × frames) a clip is refused with a message saying what fits', async () => {
    // 3840x2160 (8.3 MP) × 5 frames = 41.5 megapixel-frames, over a limit of 30: 3 frames fit, 0.6 s at 5 fps.
    const uhd = generate('uhd.mp4', ['-f', 'lavfi', '-i', 'color=c=blue:size=3840x2160:rate=5:duration=1', '-c:v', 'libx264', '-preset', 'ultrafast']);
    const err = await rejection(pipeline({ maxDecodeMegapixelFrames: 30 }).animefy(fs.readFileSync(uhd), request));
    expect(err.code).toBe('VIDEO_TOO_LARGE');
    expect(err.message).toContain('3840x2160, 5 frames');
    expect(err.message).toContain('at most 3 frames (0.6 s)');
    // Under a limit it fits, the same clip is accepted.
    const ok = await pipeline({ maxDecodeMegapixelFrames: 50 }).animefy(fs.readFileSync(uhd), request);
    expect([ok.width, ok.height]).toEqual([320, 180]);
    expectNothingLeft();
  });

  it('GIFs and animated WebPs (decoded by sharp) count against the same limit', async () => {
    const gif = writeGifTiming(
      fs.readFileSync(generate('limit.gif', ['-f', 'lavfi', '-i', 'testsrc=size=1600x1200:rate=10', '-frames:v', '3'])),
      [100, 100, 100],
      0,
    );
    // 1.92 MP × 3 frames = 5.76 megapixel-frames.
    const strict = pipeline({ maxDecodeMegapixelFrames: 5 });
    expect((await rejection(strict.animefy(gif, request))).code).toBe('VIDEO_TOO_LARGE');
    // Three pages of different greys (sharp writes identical pages as one still picture).
    const pages = Buffer.concat([60, 120, 180].map((grey) => Buffer.alloc(1600 * 1200 * 3, grey)));
    const webp = await sharp(pages, { raw: { width: 1600, height: 1200 * 3, channels: 3, pageHeight: 1200 } })
      .webp({ delay: [100, 100, 100], loop: 0 })
      .toBuffer();
    expect(readWebpTiming(webp)?.frames).toBe(3);
    const err = await rejection(strict.animefy(webp, request));
    expect(err.code).toBe('VIDEO_TOO_LARGE');
    expect(err.message).toContain('1600x1200, 3 frames');
    expectNothingLeft();
  });
});

describe('bad input', () => {
  /** Makes a file with ffmpeg's test sources. */
  function generate(name: string, args: string[]): Buffer {
    const file = path.join(tempRoot, name);
    execFileSync(paths.ffmpeg, ['-v', 'error', '-y', ...args, file]);
    return fs.readFileSync(file);
  }

  const cases: [string, () => Buffer, ErrorCode][] = [
    ['a 10,000-frame GIF', () => tinyGif(10_000), 'TOO_MANY_FRAMES'],
    ['junk bytes', () => Buffer.from('this is not a video at all, just some text '.repeat(20)), 'NOT_A_VIDEO'],
    [
      'a 20 s video',
      () => generate('long.mp4', ['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=5:duration=20', '-c:v', 'libx264', '-preset', 'ultrafast']),
      'VIDEO_TOO_LONG',
    ],
    ['sound only', () => generate('sound.m4a', ['-f', 'lavfi', '-i', 'sine=duration=1', '-c:a', 'aac']), 'NO_VIDEO_STREAM'],
    [
      'an MP4 with no frames',
      () => generate('empty.mp4', ['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-frames:v', '0', '-c:v', 'libx264']),
      'NO_VIDEO_STREAM',
    ],
    [
      'a truncated video',
      () => {
        const whole = generate('whole.mp4', [
          '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=15:duration=3', '-c:v', 'libx264', '-preset', 'ultrafast', '-movflags', '+faststart',
        ]);
        return whole.subarray(0, Math.floor(whole.length * 0.4));
      },
      'CORRUPT_VIDEO',
    ],
    [
      'a video cut before its index',
      () => fixture('talking_clip.mp4').subarray(0, 20_000),
      'CORRUPT_VIDEO',
    ],
  ];

  it.each(cases)('%s gives a typed error and leaves nothing behind', async (_name, make, code) => {
    const started = Date.now();
    const err = await rejection(media.animefy(make(), request));
    expect(err.code).toBe(code);
    expect(Date.now() - started).toBeLessThan(20_000);
    expectNothingLeft();
  });

  it('face mode is refused for clips', async () => {
    expect((await rejection(media.animefy(fixture('face_clip.gif'), { ...request, mode: 'face' }))).code).toBe('BAD_OPTION');
  });

  it('a still picture is not a clip', async () => {
    expect((await rejection(media.animefy(fixture('portrait_frontal_1.jpg'), request))).code).toBe('NOT_A_VIDEO');
  });
});

describe('cancel', () => {
  it('stops ffmpeg and removes the temporary files', async () => {
    const controller = new AbortController();
    const err = await rejection(
      media.animefy(fixture('talking_clip.mp4'), {
        ...request,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.stage === 'frames' && e.frame === 2) controller.abort();
        },
      }),
    );
    expect(err.code).toBe('CANCELLED');
    expectNothingLeft();
  });
});
