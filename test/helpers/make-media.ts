/**
 * Small media files for the media tests, generated with ffmpeg's lavfi sources (testsrc, sine) into a
 * temporary directory, plus the ffmpeg paths from the config.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { hasEncoder as hasFfmpegEncoder } from '#src/pipeline/media/ffmpeg.ts';
import { resolveFfmpegPaths } from '#src/pipeline/media/ffmpeg-binaries.ts';
import { config } from './fixtures.ts';

const execFileAsync = promisify(execFile);

export const paths = resolveFfmpegPaths(config);

/** A fresh directory for one test file's generated media. */
export function scratchDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'animefy-media-test-'));
}

/** Runs `ffmpeg -y <args> <dir/name>` and returns the output path. */
export async function makeMedia(dir: string, name: string, args: readonly string[]): Promise<string> {
  const out = path.join(dir, name);
  await execFileAsync(paths.ffmpeg, ['-hide_banner', '-nostdin', '-v', 'error', '-y', ...args, out]);
  return out;
}

/** Whether this ffmpeg build has an encoder (e.g. libvpx-vp9). */
export function hasEncoder(name: string): Promise<boolean> {
  return hasFfmpegEncoder(paths.ffmpeg, name);
}

/** A 1-second 64x48 H.264 MP4 with its moov at the end (ffmpeg's default, no faststart). */
export function makeMp4(dir: string, name = 'clip.mp4'): Promise<string> {
  return makeMedia(dir, name, [
    '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-t', '1',
    '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast',
  ]);
}

/**
 * A GIF of `frames` 1x1 frames built byte by byte: a 2-colour global table, a NETSCAPE loop extension
 * when `loop` is given, and a Graphic Control Extension with `delayCs` before each frame unless null.
 */
export function tinyGif(frames: number, options: { delayCs?: number | null; loop?: number } = {}): Buffer {
  const { delayCs = 5, loop } = options;
  const header = [
    ...Buffer.from('GIF89a', 'latin1'),
    1, 0, 1, 0, // 1x1 logical screen
    0x80, 0, 0, // global colour table of 2 entries
    0, 0, 0, 255, 255, 255,
  ];
  const loopExt = loop === undefined ? [] : [0x21, 0xff, 11, ...Buffer.from('NETSCAPE2.0', 'latin1'), 3, 1, loop & 0xff, loop >> 8, 0];
  const gce = delayCs === null ? [] : [0x21, 0xf9, 4, 0, delayCs & 0xff, delayCs >> 8, 0, 0];
  // Image descriptor 1x1 at 0,0, LZW minimum code size 2, data: clear, index 0, end (0x44 0x01).
  const frame = [...gce, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0];
  const body = Buffer.from(frame);
  const parts = [Buffer.from(header), Buffer.from(loopExt)];
  for (let i = 0; i < frames; i++) parts.push(body);
  parts.push(Buffer.from([0x3b]));
  return Buffer.concat(parts);
}
