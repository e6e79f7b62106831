/**
 * Small media files for the media tests, generated with ffmpeg's lavfi sources (testsrc, sine) into a
 * temporary directory, plus the ffmpeg paths from the config.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { resolveFfmpegPaths } from '../../../src/pipeline/media/ffmpeg.ts';
import { config } from '../../helpers/fixtures.ts';

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
export async function hasEncoder(name: string): Promise<boolean> {
  const { stdout } = await execFileAsync(paths.ffmpeg, ['-hide_banner', '-encoders']);
  return stdout.split('\n').some((line) => line.trim().split(/\s+/)[1] === name);
}

/** A 1-second 64x48 H.264 MP4 with its moov at the end (ffmpeg's default, no faststart). */
export function makeMp4(dir: string, name = 'clip.mp4'): Promise<string> {
  return makeMedia(dir, name, [
    '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-t', '1',
    '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast',
  ]);
}
