/**
 * The npm packages' ffmpeg and ffprobe, used when a machine has no system ffmpeg (@ffmpeg-installer's
 * is a 2018 build, @ffprobe-installer's a 2023 one), run explicitly whatever the machine has: a real
 * GIF and a clip with sound go through the pipeline and the fit stage with them, and come out valid,
 * with their frames, delays, sound and length.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitToBytes } from '#src/pipeline/fit-size.ts';
import { readGifTiming } from '#src/pipeline/media/animation-timing.ts';
import { liveFfmpegProcesses, type FfmpegPaths } from '#src/pipeline/media/ffmpeg.ts';
import { machineFinder, NPM_PACKAGES, parseVersionLine, versionLine } from '#src/pipeline/media/ffmpeg-binaries.ts';
import { MediaPipeline, mediaSettingsFromConfig, type MediaRequest, type MediaResult } from '#src/pipeline/media/media-pipeline.ts';
import { probeMedia, type MediaInfo } from '#src/pipeline/media/probe.ts';
import { config, fixture, fixturePath, sharedAnimefier } from '../../helpers/fixtures.ts';

const ffmpeg = machineFinder.npmBinary('ffmpeg');
const ffprobe = machineFinder.npmBinary('ffprobe');
// The packages ship binaries for Linux, macOS and Windows on x64 (and some ARM); CI runs linux-x64,
// where a missing one is a failure (npm ci installs them), not a reason to skip.
const expected = process.platform === 'linux' && process.arch === 'x64';
if (expected && !(ffmpeg && ffprobe)) {
  throw new Error(`${NPM_PACKAGES.ffmpeg} / ${NPM_PACKAGES.ffprobe} are not installed: run npm ci (they are optional dependencies)`);
}
const npm: FfmpegPaths | undefined = ffmpeg && ffprobe ? { ffmpeg, ffprobe } : undefined;

const request: MediaRequest = { style: 'hayao', mode: 'full', quality: 'fast' };
let dir: string;
let media: MediaPipeline;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'animefy-npm-ffmpeg-'));
  fs.mkdirSync(path.join(dir, 'jobs'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, data: Uint8Array): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return file;
}

/** Probed with the npm ffprobe, like the pipeline; frames counted by decoding them all. */
async function probe(name: string, data: Uint8Array): Promise<MediaInfo & { decodedFrames: number }> {
  const file = write(name, data);
  const info = await probeMedia(npm!, file);
  const counted = execFileSync(npm!.ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file]);
  return { ...info, decodedFrames: Number.parseInt(counted.toString(), 10) };
}

function expectNothingLeft(): void {
  expect(liveFfmpegProcesses()).toBe(0);
  expect(fs.readdirSync(path.join(dir, 'jobs'))).toEqual([]);
}

describe.runIf(npm)('the npm packages ffmpeg and ffprobe', () => {
  beforeAll(() => {
    // The whole pipeline with them: probe, decode, encode (and below, the fit stage).
    media = new MediaPipeline(sharedAnimefier(), { ...mediaSettingsFromConfig(config), paths: npm!, tempDir: path.join(dir, 'jobs') });
  });

  it('are the builds the packages ship, not the system ones', () => {
    for (const binary of [npm!.ffmpeg, npm!.ffprobe]) {
      expect(binary).toContain(`${path.sep}node_modules${path.sep}`);
      expect(parseVersionLine(versionLine(binary) ?? '')).toBeDefined();
    }
  });

  describe('a GIF', () => {
    let gif: MediaResult;
    beforeAll(async () => {
      gif = await media.animefy(fixture('face_clip.gif'), request);
    });

    it('comes back as a valid GIF with every frame, its delays and loop, at its size', async () => {
      const source = readGifTiming(fixture('face_clip.gif'));
      const timing = readGifTiming(gif.data);
      expect(timing).toMatchObject({ frames: source.frames, delays: source.delays, loop: source.loop, width: 320, height: 180 });
      const info = await probe('out.gif', gif.data);
      expect(info).toMatchObject({ videoCodec: 'gif', width: 320, height: 180, decodedFrames: 30 });
      expect(gif.faces).toBeGreaterThanOrEqual(1);
      expectNothingLeft();
    });

    it('is made smaller by the fit stage with the same frames and delays', async () => {
      const limit = Math.round(gif.data.byteLength * 0.6);
      const fitted = await fitToBytes({ data: gif.data, format: 'gif', width: 320, height: 180 }, { maxBytes: limit, ffmpeg: npm!, tempRoot: dir });
      expect(fitted.data.byteLength).toBeLessThanOrEqual(limit);
      expect(fitted.width).toBeLessThan(320);
      const timing = readGifTiming(fitted.data);
      expect(timing.frames).toBe(30);
      expect(timing.delays).toEqual(readGifTiming(gif.data).delays);
      expect((await probe('fitted.gif', fitted.data)).decodedFrames).toBe(30);
    });
  });

  describe('a clip with sound', () => {
    let mp4: MediaResult;
    beforeAll(async () => {
      mp4 = await media.animefy(fixture('talking_clip.mp4'), request);
    });

    it('comes back as a fast-start H.264 MP4 with its AAC sound, frames and length', async () => {
      const info = await probe('talking.mp4', mp4.data);
      expect(info).toMatchObject({ videoCodec: 'h264', width: 160, height: 120, audio: { codec: 'aac' } });
      expect(Math.abs(info.decodedFrames - 45)).toBeLessThanOrEqual(1);
      expect(Math.abs(info.duration - 3)).toBeLessThan(0.1);
      expect(mp4.media).toMatchObject({ frames: 45, hasAudio: true });
      expect(mp4.data.indexOf('moov')).toBeLessThan(mp4.data.indexOf('mdat'));
      expectNothingLeft();
    });

    it('comes back as VP9 + Opus WebM when asked', async () => {
      // One second of the clip keeps this quick (cut with the npm ffmpeg too).
      const short = path.join(dir, 'short.mp4');
      execFileSync(npm!.ffmpeg, ['-v', 'error', '-y', '-i', fixturePath('talking_clip.mp4'), '-t', '1', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', short]);
      const webm = await media.animefy(fs.readFileSync(short), { ...request, format: 'webm' });
      const info = await probe('short.webm', webm.data);
      expect(info).toMatchObject({ videoCodec: 'vp9', width: 160, height: 120, audio: { codec: 'opus' } });
      expect(Math.abs(info.duration - 1)).toBeLessThan(0.15);
      expectNothingLeft();
    });

    it('is squeezed by the fit stage, keeping its sound and length', async () => {
      const limit = Math.round(mp4.data.byteLength * 0.5);
      const fitted = await fitToBytes({ data: mp4.data, format: 'mp4', width: 160, height: 120 }, { maxBytes: limit, ffmpeg: npm!, tempRoot: dir });
      expect(fitted.data.byteLength).toBeLessThanOrEqual(limit);
      const info = await probe('fitted.mp4', fitted.data);
      expect(info).toMatchObject({ videoCodec: 'h264', audio: { codec: 'aac' } });
      expect(Math.abs(info.duration - 3)).toBeLessThan(0.2);
    });
  });
});
