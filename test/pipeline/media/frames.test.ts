/**
 * Frame streams and timing helpers: frames cut correctly from arbitrary pipe chunks, a transparent GIF
 * decoded onto white, constant rates for uneven GIF delays, even working sizes for H.264.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { passthroughArgs, spawnFfmpeg } from '#src/pipeline/media/ffmpeg.ts';
import { decodeArgs, flattenOnWhite, readRawFrames } from '#src/pipeline/media/frames.ts';
import { workingSize } from '#src/pipeline/media/source.ts';
import { rateForDelays } from '#src/pipeline/media/timing.ts';
import { paths, scratchDir } from '../../helpers/make-media.ts';

let dir: string;
beforeAll(async () => {
  dir = await scratchDir();
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('readRawFrames', () => {
  it('cuts frames out of chunks of any size and drops a cut-off tail', async () => {
    const frameBytes = 12;
    const data = Buffer.from(Array.from({ length: 12 * 3 + 5 }, (_, i) => i % 251));
    const chunks = [data.subarray(0, 5), data.subarray(5, 30), data.subarray(30, 31), data.subarray(31)];
    const frames: Buffer[] = [];
    for await (const frame of readRawFrames(Readable.from(chunks), frameBytes)) frames.push(Buffer.from(frame));
    expect(frames).toHaveLength(3);
    frames.forEach((f, i) => expect(f).toEqual(data.subarray(i * frameBytes, (i + 1) * frameBytes)));
  });
});

describe('transparent GIF', () => {
  it('decodes onto white, not black', async () => {
    const [w, h] = [32, 32];
    const raw = Buffer.alloc(w * h * 2 * 4);
    for (let p = 0; p < w * h * 2; p++) {
      raw[p * 4] = p < w * h ? 200 : 150; // red where opaque (frames differ, or the encoder merges them)
      raw[p * 4 + 3] = p % w < 16 ? 0 : 255; // left half transparent
    }
    const file = path.join(dir, 'transparent.gif');
    await sharp(raw, { raw: { width: w, height: h * 2, channels: 4, pageHeight: h } }).gif({ delay: [100, 100] }).toFile(file);
    const passthrough = await passthroughArgs(paths.ffmpeg);
    const proc = spawnFfmpeg(paths.ffmpeg, decodeArgs(file, { width: w, height: h, alpha: true, passthrough }), { stdout: 'pipe' });
    const frames: Buffer[] = [];
    for await (const rgba of readRawFrames(proc.stdout as Readable, w * h * 4)) frames.push(flattenOnWhite(rgba));
    await proc.done;
    expect(frames).toHaveLength(2);
    expect([...frames[0].subarray(0, 3)]).toEqual([255, 255, 255]);
    const right = (5 * w + 24) * 3;
    expect(frames[0][right]).toBeGreaterThan(180);
    expect(frames[0][right + 1]).toBeLessThan(30);
  });
});

describe('timing helpers', () => {
  it('picks a common time step for uneven delays and repeats frames on it', () => {
    expect(rateForDelays([100, 100, 100])).toEqual({ rate: '1000/100', repeats: [1, 1, 1] });
    expect(rateForDelays([50, 120, 300])).toEqual({ rate: '1000/20', repeats: [3, 6, 15] });
    // delays under 20 ms play as 100 ms in browsers
    expect(rateForDelays([0, 10, 100])).toEqual({ rate: '1000/100', repeats: [1, 1, 1] });
  });

  it('keeps the working size within the limit and even for H.264', () => {
    expect(workingSize(320, 180, 720, false)).toEqual({ width: 320, height: 180 });
    expect(workingSize(1920, 1080, 720, true)).toEqual({ width: 720, height: 404 });
    expect(workingSize(161, 121, 720, true)).toEqual({ width: 160, height: 120 });
    expect(workingSize(161, 121, 720, false)).toEqual({ width: 161, height: 121 });
  });
});
