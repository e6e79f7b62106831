/**
 * probeMedia on the real fixtures and on generated files: sizes, rates, rotation, audio, and the
 * user-facing error for each kind of bad input.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnimefyError } from '#src/errors.ts';
import { mediaInfoFromProbe, probeMedia, type FfprobeStream } from '#src/pipeline/media/probe.ts';
import { fixturePath } from '../../helpers/fixtures.ts';
import { hasEncoder, makeMedia, makeMp4, paths, scratchDir } from '../../helpers/make-media.ts';

async function errorCode(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (err) {
    if (err instanceof AnimefyError) return err.code;
    throw err;
  }
  throw new Error('expected an AnimefyError');
}

/** VP9 cases are skipped (and reported as skipped) on an ffmpeg built without libvpx. */
const HAS_VP9 = await hasEncoder('libvpx-vp9');
const HAS_MP3 = await hasEncoder('libmp3lame');

let dir: string;
let mp4: string;
beforeAll(async () => {
  dir = await scratchDir();
  mp4 = await makeMp4(dir);
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('probeMedia on the fixtures', () => {
  it('reads the MP4: size, 15 fps as a rational, 45 frames, 3 s, AAC mono', async () => {
    const info = await probeMedia(paths, fixturePath('talking_clip.mp4'));
    expect(info.container).toContain('mp4');
    expect(info.videoCodec).toBe('h264');
    expect([info.width, info.height, info.rotation]).toEqual([160, 120, 0]);
    expect(info.fps).toBeCloseTo(15, 3);
    expect(info.fpsRational).toBe('500000/33333');
    expect(info.frames).toBe(45);
    expect(info.duration).toBeCloseTo(3, 2);
    expect(info.audio).toEqual({ codec: 'aac', channels: 1, sampleRate: 44100 });
  });

  it('reads the GIF: 320x180, 10 fps, 30 frames, no audio', async () => {
    const info = await probeMedia(paths, fixturePath('face_clip.gif'));
    expect(info.container).toBe('gif');
    expect(info.videoCodec).toBe('gif');
    expect([info.width, info.height]).toEqual([320, 180]);
    expect(info.fps).toBe(10);
    expect(info.fpsRational).toBe('10/1');
    expect(info.frames).toBe(30);
    expect(info.duration).toBeCloseTo(3, 2);
    expect(info.audio).toBeUndefined();
  });
});

describe('probeMedia on generated files', () => {
  it.skipIf(!HAS_VP9)('reads a WebM without stream duration or frame count from the format duration', async () => {
    const webm = await makeMedia(dir, 'clip.webm', [
      '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-t', '1', '-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8',
    ]);
    const info = await probeMedia(paths, webm);
    expect(info.container).toBe('matroska,webm');
    expect(info.videoCodec).toBe('vp9');
    expect([info.width, info.height, info.fps, info.frames]).toEqual([64, 48, 10, 10]);
    expect(info.duration).toBeCloseTo(1, 2);
  });

  it('swaps width and height of a video rotated by 90 or 270 degrees', async () => {
    // ffmpeg 5.1 has no -display_rotation; the rotate tag only becomes a display matrix with -c copy.
    const r90 = await makeMedia(dir, 'rot90.mp4', ['-i', mp4, '-c', 'copy', '-metadata:s:v:0', 'rotate=90']);
    const r270 = await makeMedia(dir, 'rot270.mp4', ['-i', mp4, '-c', 'copy', '-metadata:s:v:0', 'rotate=270']);
    const r180 = await makeMedia(dir, 'rot180.mp4', ['-i', mp4, '-c', 'copy', '-metadata:s:v:0', 'rotate=180']);
    const a = await probeMedia(paths, r90);
    expect([a.width, a.height, a.rotation]).toEqual([48, 64, 90]);
    const b = await probeMedia(paths, r270);
    expect([b.width, b.height, b.rotation]).toEqual([48, 64, 270]);
    const c = await probeMedia(paths, r180);
    expect([c.width, c.height, c.rotation]).toEqual([64, 48, 180]);
  });

  it('a faststart MP4 cut short still probes (the decoder finds the damage later)', async () => {
    const whole = await fs.readFile(fixturePath('talking_clip.mp4'));
    const cut = path.join(dir, 'talking_cut.mp4');
    await fs.writeFile(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const info = await probeMedia(paths, cut);
    expect(info.frames).toBe(45);
  });

  it('an MP4 cut before its moov is CORRUPT_VIDEO', async () => {
    const whole = await fs.readFile(mp4);
    // ffmpeg writes moov last unless told to faststart.
    expect(whole.indexOf('moov')).toBeGreaterThan(whole.length / 2);
    const cut = path.join(dir, 'cut.mp4');
    await fs.writeFile(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
    expect(await errorCode(probeMedia(paths, cut))).toBe('CORRUPT_VIDEO');
    const cutNoExt = path.join(dir, 'cut-input');
    await fs.writeFile(cutNoExt, whole.subarray(0, Math.floor(whole.length * 0.6)));
    expect(await errorCode(probeMedia(paths, cutNoExt))).toBe('CORRUPT_VIDEO');
  });

  it.skipIf(!HAS_VP9)('a WebM cut in its header is CORRUPT_VIDEO', async () => {
    const webm = await makeMedia(dir, 'cut-src.webm', [
      '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-t', '1', '-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8',
    ]);
    const cut = path.join(dir, 'cut.webm');
    await fs.writeFile(cut, (await fs.readFile(webm)).subarray(0, 100));
    expect(await errorCode(probeMedia(paths, cut))).toBe('CORRUPT_VIDEO');
  });

  it('junk bytes are NOT_A_VIDEO, whatever the file is called', async () => {
    const junk = Buffer.alloc(20_000);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 2654435761) >>> 24;
    for (const name of ['junk.bin', 'junk.mp4', 'junk.webm', 'junk']) {
      const file = path.join(dir, name);
      await fs.writeFile(file, junk);
      expect(await errorCode(probeMedia(paths, file)), name).toBe('NOT_A_VIDEO');
    }
    const text = path.join(dir, 'note.mov');
    await fs.writeFile(text, 'hello, this is not a video');
    expect(await errorCode(probeMedia(paths, text))).toBe('NOT_A_VIDEO');
  });

  it('audio only is NO_VIDEO_STREAM', async () => {
    const m4a = await makeMedia(dir, 'tone.m4a', ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-c:a', 'aac']);
    expect(await errorCode(probeMedia(paths, m4a))).toBe('NO_VIDEO_STREAM');
  });

  it.skipIf(!HAS_MP3)('audio with cover art is NO_VIDEO_STREAM', async () => {
    const mp3 = await makeMedia(dir, 'cover.mp3', [
      '-f', 'lavfi', '-i', 'sine=duration=1', '-f', 'lavfi', '-i', 'color=c=red:size=32x32:duration=0.1',
      '-map', '0:a', '-map', '1:v', '-c:a', 'libmp3lame', '-c:v', 'png', '-disposition:v:0', 'attached_pic',
    ]);
    expect(await errorCode(probeMedia(paths, mp3))).toBe('NO_VIDEO_STREAM');
  });

  it('abort is CANCELLED and a missing ffprobe is VIDEO_UNAVAILABLE', async () => {
    expect(await errorCode(probeMedia(paths, mp4, { signal: AbortSignal.abort() }))).toBe('CANCELLED');
    const missing = { ffmpeg: paths.ffmpeg, ffprobe: path.join(dir, 'no-such-ffprobe') };
    expect(await errorCode(probeMedia(missing, mp4))).toBe('VIDEO_UNAVAILABLE');
  });
});

describe('mediaInfoFromProbe', () => {
  const video: FfprobeStream = {
    codec_type: 'video',
    codec_name: 'h264',
    width: 640,
    height: 360,
    avg_frame_rate: '30/1',
    r_frame_rate: '30/1',
    duration: '2.000000',
  };
  const format = { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '2.1' };

  function code(f: () => unknown): string | undefined {
    try {
      f();
    } catch (err) {
      return err instanceof AnimefyError ? err.code : 'other';
    }
    return undefined;
  }

  it('counts frames from duration when nb_frames is missing', () => {
    const info = mediaInfoFromProbe({ streams: [video], format });
    expect([info.fps, info.fpsRational, info.frames, info.duration]).toEqual([30, '30/1', 60, 2]);
  });

  it('uses r_frame_rate when avg_frame_rate is unusable', () => {
    for (const avg of ['0/0', '90000/1', undefined]) {
      const info = mediaInfoFromProbe({ streams: [{ ...video, avg_frame_rate: avg, r_frame_rate: '25/1' }], format });
      expect(info.fpsRational).toBe('25/1');
    }
  });

  it('falls back to the format duration, then to frames / fps', () => {
    expect(mediaInfoFromProbe({ streams: [{ ...video, duration: undefined }], format }).duration).toBe(2.1);
    expect(
      mediaInfoFromProbe({ streams: [{ ...video, duration: undefined, nb_frames: '15' }], format: { format_name: 'x' } }).duration,
    ).toBe(0.5);
  });

  it('reads rotation from side data (negative values normalised) and from the old rotate tag', () => {
    const side = (rotation: number) => mediaInfoFromProbe({ streams: [{ ...video, side_data_list: [{ rotation }] }], format });
    expect([side(-90).rotation, side(-90).width, side(-90).height]).toEqual([270, 360, 640]);
    expect(side(-180).rotation).toBe(180);
    expect(side(90).rotation).toBe(90);
    // ffprobe 4.x: `rotate` is clockwise, the display matrix counter-clockwise.
    const tagged = mediaInfoFromProbe({ streams: [{ ...video, tags: { rotate: '90' } }], format });
    expect([tagged.rotation, tagged.width, tagged.height]).toEqual([270, 360, 640]);
  });

  it('ignores cover art and reports errors for unusable streams', () => {
    const cover: FfprobeStream = { ...video, codec_name: 'mjpeg', disposition: { attached_pic: 1 } };
    const audio: FfprobeStream = { codec_type: 'audio', codec_name: 'mp3', channels: 2, sample_rate: '48000' };
    expect(code(() => mediaInfoFromProbe({ streams: [audio, cover], format }))).toBe('NO_VIDEO_STREAM');
    expect(mediaInfoFromProbe({ streams: [cover, audio, video], format }).audio).toEqual({ codec: 'mp3', channels: 2, sampleRate: 48000 });
    expect(code(() => mediaInfoFromProbe({ streams: [{ ...video, width: 0 }], format }))).toBe('CORRUPT_VIDEO');
    expect(code(() => mediaInfoFromProbe({ streams: [{ ...video, height: undefined }], format }))).toBe('CORRUPT_VIDEO');
    expect(code(() => mediaInfoFromProbe({ streams: [{ ...video, avg_frame_rate: '0/0', r_frame_rate: '0/0' }], format }))).toBe('CORRUPT_VIDEO');
    expect(code(() => mediaInfoFromProbe({ streams: [{ ...video, duration: undefined }], format: {} }))).toBe('CORRUPT_VIDEO');
  });
});
