/**
 * Animated emoji from one cut-out: every effect moves or recolours the art (measured on the pixels),
 * stays inside the canvas and loops; captions are checked against the font and drawn; the WebM is a
 * Telegram video sticker (VP9 with alpha, 512 px, ≤ 3 s, ≤ 30 fps, ≤ 256 KB) from both the system
 * ffmpeg and the npm package's 2018 build; the GIF is a small transparent loop.
 *
 * The cut-out is made here from a real fixture (elliptical alpha, white ring, soft shadow) so that
 * these tests do not depend on the sticker module.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnimefyError } from '#src/errors.ts';
import { captionFont, checkCaption } from '#src/pipeline/caption.ts';
import {
  EMOJI_MAX_BYTES,
  EMOJI_TARGETS,
  encodeEmoji,
  makeEmoji,
  renderEmojiFrames,
  type Cutout,
  type EmojiFrames,
} from '#src/pipeline/emoji.ts';
import { EMOJI_EFFECT_IDS, MAX_CAPTION_CHARS, type EmojiEffect } from '#src/pipeline/emoji-effects.ts';
import { hasDecoder, liveFfmpegProcesses, type FfmpegPaths } from '#src/pipeline/media/ffmpeg.ts';
import { machineFinder } from '#src/pipeline/media/ffmpeg-binaries.ts';
import { probeMedia } from '#src/pipeline/media/probe.ts';
import { fixturePath } from '../../helpers/fixtures.ts';
import { hasEncoder, paths, scratchDir } from '../../helpers/make-media.ts';

const execFileAsync = promisify(execFile);
const HAS_VP9 = await hasEncoder('libvpx-vp9');
const npmFfmpeg = machineFinder.npmBinary('ffmpeg');

/** A cut-out like sticker.ts makes: the art in an ellipse, a white die-cut ring, a soft shadow. */
async function makeCutout(file: string, shadow = true): Promise<Cutout> {
  const W = 410;
  const H = 512;
  const photo = await sharp(file).resize(W, H, { fit: 'cover' }).removeAlpha().raw().toBuffer();
  const data = Buffer.alloc(W * H * 4);
  const cx = W / 2;
  const cy = H / 2 - 6;
  const cover = (x: number, y: number, rx: number, ry: number, ox = 0, oy = 0, soft = 1): number => {
    const dx = (x + 0.5 - cx - ox) / rx;
    const dy = (y + 0.5 - cy - oy) / ry;
    const d = Math.sqrt(dx * dx + dy * dy);
    return Math.min(1, Math.max(0, 0.5 - ((d - 1) * Math.min(rx, ry)) / soft));
  };
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      // Premultiplied "over": art over the white ring over the shadow.
      let r = 0;
      let g = 0;
      let b = 0;
      let a = shadow ? 0.35 * cover(x, y, W / 2 - 18, H / 2 - 22, 5, 9, 14) : 0;
      const over = (cr: number, cg: number, cb: number, ca: number): void => {
        r = cr * ca + r * (1 - ca);
        g = cg * ca + g * (1 - ca);
        b = cb * ca + b * (1 - ca);
        a = ca + a * (1 - ca);
      };
      const p = (y * W + x) * 3;
      over(255, 255, 255, cover(x, y, W / 2 - 18, H / 2 - 22));
      over(photo[p], photo[p + 1], photo[p + 2], cover(x, y, W / 2 - 30, H / 2 - 34));
      const o = (y * W + x) * 4;
      if (a > 0) {
        data[o] = Math.round(r / a);
        data[o + 1] = Math.round(g / a);
        data[o + 2] = Math.round(b / a);
        data[o + 3] = Math.round(a * 255);
      }
    }
  }
  return { width: W, height: H, data };
}

/** Mean absolute difference of two RGBA frames, per byte. */
function difference(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

/** Pixels (of an RGBA frame) that pass a test, within an optional row range. */
function count(frame: Buffer, size: number, test: (r: number, g: number, b: number, a: number) => boolean, rows?: [number, number]): number {
  const [y0, y1] = rows ?? [0, size];
  let n = 0;
  for (let i = y0 * size * 4; i < y1 * size * 4; i += 4) if (test(frame[i], frame[i + 1], frame[i + 2], frame[i + 3])) n++;
  return n;
}

/** The largest alpha on the outermost ring of pixels. */
function borderAlpha(frame: Buffer, size: number): number {
  let max = 0;
  for (let i = 0; i < size; i++) {
    for (const [x, y] of [[i, 0], [i, size - 1], [0, i], [size - 1, i]]) max = Math.max(max, frame[(y * size + x) * 4 + 3]);
  }
  return max;
}

/** Hue (degrees) of the mean chroma of opaque, coloured pixels. */
function meanHue(frame: Buffer): number {
  let i = 0;
  let q = 0;
  for (let p = 0; p < frame.length; p += 4) {
    const [r, g, b, a] = [frame[p], frame[p + 1], frame[p + 2], frame[p + 3]];
    if (a < 250 || Math.max(r, g, b) - Math.min(r, g, b) < 40) continue;
    i += 0.596 * r - 0.274 * g - 0.322 * b;
    q += 0.211 * r - 0.523 * g + 0.312 * b;
  }
  return (Math.atan2(q, i) * 180) / Math.PI;
}

const hueDistance = (a: number, b: number): number => {
  const d = Math.abs(a - b) % 360;
  return d > 180 ? 360 - d : d;
};

const isPink = (r: number, g: number, b: number, a: number): boolean => a > 200 && r > 200 && g < 150 && b > 60 && b < 200 && r - g > 90;
const isDark = (r: number, g: number, b: number, a: number): boolean => a > 200 && r < 60 && g < 60 && b < 70;
const isWhite = (r: number, g: number, b: number, a: number): boolean => a > 200 && r > 235 && g > 235 && b > 235;

async function codeOf(work: Promise<unknown> | (() => unknown)): Promise<{ code: string; params: Record<string, unknown> }> {
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (err) {
    if (err instanceof AnimefyError) return { code: err.code, params: err.params };
    throw err;
  }
  throw new Error('expected an AnimefyError');
}

/** The first frame of a WebM decoded with libvpx (which keeps the alpha plane) as RGBA. */
async function firstFrameWithAlpha(file: string, size: number): Promise<Buffer> {
  const { stdout } = await execFileAsync(
    paths.ffmpeg,
    ['-hide_banner', '-v', 'error', '-c:v', 'libvpx-vp9', '-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgba', '-'],
    { encoding: 'buffer', maxBuffer: 16 * 1024 * 1024 },
  );
  expect(stdout.length).toBe(size * size * 4);
  return stdout;
}

const SMALL = 96;
let cutout: Cutout;
let dir: string;
/** Every effect at a small size, rendered once. */
const small = new Map<EmojiEffect, EmojiFrames>();

beforeAll(async () => {
  dir = await scratchDir();
  cutout = await makeCutout(fixturePath('anime_face_1.png'));
  for (const effect of EMOJI_EFFECT_IDS) small.set(effect, await renderEmojiFrames(cutout, { effect, size: SMALL }));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('checkCaption', () => {
  it('trims, joins whitespace and allows letters, accents, Cyrillic and punctuation', () => {
    expect(checkCaption('  gm  ')).toBe('gm');
    expect(checkCaption('good\n  morning')).toBe('good morning');
    expect(checkCaption('Café! Привет?')).toBe('Café! Привет?');
    expect(checkCaption(undefined)).toBe('');
    expect(checkCaption('   ')).toBe('');
    expect(checkCaption('x'.repeat(MAX_CAPTION_CHARS))).toHaveLength(MAX_CAPTION_CHARS);
  });

  it('refuses a caption over the limit with its length', async () => {
    const err = await codeOf(() => checkCaption('x'.repeat(MAX_CAPTION_CHARS + 1)));
    expect(err).toEqual({ code: 'CAPTION_TOO_LONG', params: { length: MAX_CAPTION_CHARS + 1, limit: MAX_CAPTION_CHARS } });
    // Counted in characters, not UTF-16 units.
    expect(checkCaption('é'.repeat(MAX_CAPTION_CHARS))).toHaveLength(MAX_CAPTION_CHARS);
  });

  it('refuses characters the font has no glyph for, naming each once', async () => {
    expect(captionFont().has('🔥'.codePointAt(0)!)).toBe(false);
    expect(await codeOf(() => checkCaption('gm 🔥'))).toEqual({ code: 'CAPTION_UNSUPPORTED', params: { chars: '"🔥"' } });
    expect(await codeOf(() => checkCaption('你好 你'))).toEqual({ code: 'CAPTION_UNSUPPORTED', params: { chars: '"你", "好"' } });
    expect((await codeOf(() => checkCaption('a\u0007b'))).code).toBe('CAPTION_UNSUPPORTED');
    // Glyphs the font has but that need shaping or right-to-left layout, which the caption cannot do.
    expect(captionFont().has('ب'.codePointAt(0)!)).toBe(true);
    expect(await codeOf(() => checkCaption('hi بب'))).toEqual({ code: 'CAPTION_UNSUPPORTED', params: { chars: '"ب"' } });
    expect((await codeOf(() => checkCaption('a\u0301\u0302'))).code).toBe('CAPTION_UNSUPPORTED');
    // Refused before any frame is drawn.
    expect((await codeOf(renderEmojiFrames(cutout, { effect: 'bounce', size: SMALL, text: '🔥' }))).code).toBe('CAPTION_UNSUPPORTED');
    expect((await codeOf(renderEmojiFrames(cutout, { effect: 'bounce', size: SMALL, text: 'y'.repeat(40) }))).code).toBe('CAPTION_TOO_LONG');
  });
});

describe('renderEmojiFrames', () => {
  it('gives each effect a loop of ≤ 3 s at ≤ 30 fps on a square canvas', () => {
    for (const [effect, f] of small) {
      expect(f.width, effect).toBe(SMALL);
      expect(f.height, effect).toBe(SMALL);
      expect(f.fps, effect).toBeLessThanOrEqual(30);
      expect(f.frames.length / f.fps, effect).toBeLessThanOrEqual(3);
      expect(f.frames.length / f.fps, effect).toBeGreaterThanOrEqual(1);
      for (const frame of f.frames) expect(frame.length).toBe(SMALL * SMALL * 4);
    }
  });

  it('moves or recolours the art in every effect, each differently', () => {
    const middles = new Map<EmojiEffect, Buffer>();
    for (const [effect, f] of small) {
      const n = f.frames.length;
      // The frames differ from each other: the largest change from the first frame is clear.
      const change = Math.max(...f.frames.map((frame) => difference(frame, f.frames[0])));
      expect(change, effect).toBeGreaterThan(3);
      // Neighbouring frames are close (smooth), and the last flows into the first like any other step.
      const steps = f.frames.map((frame, i) => difference(frame, f.frames[(i + 1) % n]));
      const wrap = steps[n - 1];
      expect(wrap, effect).toBeLessThanOrEqual(Math.max(...steps.slice(0, n - 1)) + 0.5);
      middles.set(effect, f.frames[Math.floor(n * 0.4)]);
    }
    const effects = [...middles.keys()];
    for (let i = 0; i < effects.length; i++) {
      for (let j = i + 1; j < effects.length; j++) {
        expect(difference(middles.get(effects[i])!, middles.get(effects[j])!), `${effects[i]} vs ${effects[j]}`).toBeGreaterThan(2);
      }
    }
  });

  it('keeps the art inside the canvas in every frame', () => {
    for (const [effect, f] of small) {
      for (const frame of f.frames) expect(borderAlpha(frame, SMALL), effect).toBeLessThanOrEqual(8);
    }
  });

  it('rainbow cycles the hue of the art while the white ring stays white', async () => {
    const f = small.get('rainbow')!;
    const n = f.frames.length;
    const hues = [0, n / 3, (2 * n) / 3].map((i) => meanHue(f.frames[Math.floor(i)]));
    expect(hueDistance(hues[0], hues[1])).toBeGreaterThan(60);
    expect(hueDistance(hues[1], hues[2])).toBeGreaterThan(60);
    // Counted at a size where the ring is several pixels wide (at 96 px its count follows the bob).
    const large = await renderEmojiFrames(cutout, { effect: 'rainbow', size: 192 });
    const whites = large.frames.map((frame) => count(frame, 192, isWhite));
    expect(Math.min(...whites)).toBeGreaterThan(0.85 * Math.max(...whites));
    // The still art has one hue; the rainbow's differs from it.
    expect(hueDistance(meanHue(small.get('zoom')!.frames[0]), hues[1])).toBeGreaterThan(30);
  });

  it('hearts adds pink and red hearts beside the art that come and go', () => {
    const hearts = small.get('hearts')!.frames;
    const plain = small.get('zoom')!.frames[0];
    const side = (frame: Buffer): number => {
      let n = 0;
      for (let y = 0; y < SMALL; y++) {
        for (let x = 0; x < SMALL * 0.2; x++) {
          for (const xx of [x, SMALL - 1 - x]) {
            const o = (y * SMALL + xx) * 4;
            if (isPink(plain[o], plain[o + 1], plain[o + 2], 0) || !isPink(frame[o], frame[o + 1], frame[o + 2], frame[o + 3])) continue;
            n++;
          }
        }
      }
      return n;
    };
    const counts = hearts.map(side);
    expect(side(plain)).toBe(0);
    expect(Math.min(...counts)).toBeGreaterThan(10);
    expect(count(hearts[0], SMALL, isPink)).toBeGreaterThan(count(plain, SMALL, isPink) + 50);
  });

  it('bounce leaves a ground shadow and squashes on landing', () => {
    const f = small.get('bounce')!;
    // Height of the visible art per frame: shorter than at rest while squashed.
    const heights = f.frames.map((frame) => {
      const rows: number[] = [];
      for (let y = 0; y < SMALL; y++) if (count(frame, SMALL, (_r, _g, _b, a) => a > 200, [y, y + 1]) > 0) rows.push(y);
      return rows.length ? rows[rows.length - 1] - rows[0] : 0;
    });
    expect(Math.min(...heights)).toBeLessThan(heights[0] * 0.9);
    // A faint dark ellipse under the art in every frame, even at the top of the hop.
    for (const frame of f.frames) expect(count(frame, SMALL, (r, g, b, a) => a > 8 && a < 120 && r < 40 && g < 40 && b < 40)).toBeGreaterThan(5);
  });

  it('resamples in premultiplied alpha: no dark fringe on the white ring', async () => {
    const plain = await makeCutout(fixturePath('anime_face_1.png'), false);
    const f = await renderEmojiFrames(plain, { effect: 'shake', size: 128 });
    // Edge pixels of the white ring, turned and moved: semi-transparent, and still white.
    let sum = 0;
    let n = 0;
    for (const frame of f.frames.slice(0, 6)) {
      for (let p = 0; p < frame.length; p += 4) {
        if (frame[p + 3] > 20 && frame[p + 3] < 200) {
          sum += (frame[p] + frame[p + 1] + frame[p + 2]) / 3;
          n++;
        }
      }
    }
    expect(n).toBeGreaterThan(100);
    expect(sum / n).toBeGreaterThan(225);
  });

  it('draws a caption bold at the bottom: white letters in a dark outline, readable at 128 px', async () => {
    const size = 128;
    const plain = await renderEmojiFrames(cutout, { effect: 'zoom', size });
    const captioned = await renderEmojiFrames(cutout, { effect: 'zoom', size, text: ' gm ' });
    const band: [number, number] = [Math.round(size * 0.72), size];
    for (const i of [0, Math.floor(plain.frames.length / 2)]) {
      expect(count(captioned.frames[i], size, isDark, band)).toBeGreaterThan(count(plain.frames[i], size, isDark, band) + 150);
      expect(count(captioned.frames[i], size, isWhite, band)).toBeGreaterThan(count(plain.frames[i], size, isWhite, band) + 100);
    }
    // Letters at least 16 px tall: the dark outline's rows in the band.
    const rows: number[] = [];
    for (let y = band[0]; y < size; y++) if (count(captioned.frames[0], size, isDark, [y, y + 1]) > 2) rows.push(y);
    expect(rows[rows.length - 1] - rows[0]).toBeGreaterThanOrEqual(16);
    // The art stays above the caption's letters and inside the canvas.
    for (const frame of captioned.frames) expect(borderAlpha(frame, size)).toBeLessThanOrEqual(8);
  });

  it('stops when cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    expect((await codeOf(renderEmojiFrames(cutout, { effect: 'spin', size: SMALL, signal: controller.signal }))).code).toBe('CANCELLED');
  });
});

describe('encodeEmoji gif', () => {
  it('makes a looping transparent GIF under 256 KB at 128 px, for the heaviest effects too', async () => {
    for (const effect of ['hearts', 'rainbow'] as const) {
      const result = await makeEmoji(cutout, { effect, format: 'gif', text: 'gm' }, { ffmpeg: paths, tempRoot: dir });
      expect(result.mime).toBe('image/gif');
      expect(result.data.length).toBeLessThanOrEqual(EMOJI_MAX_BYTES);
      expect(result.frames).toBeGreaterThanOrEqual(10);
      const meta = await sharp(result.data, { animated: true }).metadata();
      expect(meta.format).toBe('gif');
      expect(meta.width).toBe(EMOJI_TARGETS.gif.size);
      expect(meta.pageHeight).toBe(EMOJI_TARGETS.gif.size);
      expect(meta.pages).toBe(result.frames);
      expect(meta.loop).toBe(0);
      // The delays add up to the loop's length.
      expect(meta.delay!.reduce((a, b) => a + b, 0) / 1000).toBeCloseTo(result.duration, 2);
      // Transparent around the art, opaque in it.
      const { data } = await sharp(result.data, { page: 0 }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      expect(data[3]).toBe(0);
      const opaque = count(data, 128, (_r, _g, _b, a) => a === 255);
      expect(opaque).toBeGreaterThan(128 * 128 * 0.2);
      expect(opaque).toBeLessThan(128 * 128 * 0.9);
    }
  });
});

/** Checks a WebM as Telegram would: VP9 with alpha, 512 px, ≤ 3 s, ≤ 30 fps, ≤ 256 KB, no audio. */
async function expectVideoSticker(data: Buffer, name: string): Promise<void> {
  expect(data.length).toBeLessThanOrEqual(EMOJI_MAX_BYTES);
  const file = path.join(dir, name);
  await fs.writeFile(file, data);
  const info = await probeMedia(paths, file);
  expect(info.container).toContain('webm');
  expect(info.videoCodec).toBe('vp9');
  expect(info.alpha).toBe(true);
  expect(Math.max(info.width, info.height)).toBe(512);
  expect(info.duration).toBeLessThanOrEqual(3);
  expect(info.fps).toBeLessThanOrEqual(30);
  expect(info.audio).toBeUndefined();
  const { stdout } = await execFileAsync(paths.ffprobe, ['-v', 'error', '-show_entries', 'stream_tags=alpha_mode', '-of', 'csv=p=0', file]);
  expect(stdout.trim()).toBe('1');
  if (await hasDecoder(paths.ffmpeg, 'libvpx-vp9')) {
    const frame = await firstFrameWithAlpha(file, 512);
    for (const [x, y] of [[2, 2], [509, 2], [2, 509], [509, 509]]) expect(frame[(y * 512 + x) * 4 + 3], `corner ${x},${y}`).toBeLessThan(16);
    expect(frame[(256 * 512 + 256) * 4 + 3]).toBeGreaterThan(240);
  }
}

describe.runIf(HAS_VP9)('encodeEmoji webm (system ffmpeg)', () => {
  it('makes a Telegram video sticker with a caption', async () => {
    const result = await makeEmoji(cutout, { effect: 'hearts', format: 'webm', text: 'gm' }, { ffmpeg: paths, tempRoot: dir });
    expect(result).toMatchObject({ mime: 'video/webm', width: 512, height: 512, fps: 30 });
    expect(result.duration).toBeCloseTo(result.frames / 30, 5);
    await expectVideoSticker(result.data, 'hearts.webm');
    expect(liveFfmpegProcesses()).toBe(0);
    expect((await fs.readdir(dir)).filter((n) => n.startsWith('animefy-'))).toEqual([]);
  });

  it('refuses frames over 3 s or 30 fps', async () => {
    const frame = Buffer.alloc(64 * 64 * 4);
    const long: EmojiFrames = { width: 64, height: 64, fps: 10, frames: Array(31).fill(frame) };
    expect((await codeOf(encodeEmoji(long, 'webm', { ffmpeg: paths }))).code).toBe('BAD_OPTION');
    expect((await codeOf(encodeEmoji({ ...long, fps: 60, frames: [frame] }, 'gif', { ffmpeg: paths }))).code).toBe('BAD_OPTION');
  });
});

describe.runIf(npmFfmpeg)('encodeEmoji webm (npm package ffmpeg, 2018 build)', () => {
  it('makes the same kind of video sticker', async () => {
    const npm: FfmpegPaths = { ffmpeg: npmFfmpeg!, ffprobe: paths.ffprobe };
    const frames = await renderEmojiFrames(cutout, { effect: 'bounce', size: 512 });
    const result = await encodeEmoji(frames, 'webm', { ffmpeg: npm, tempRoot: dir });
    expect(result.frames).toBe(frames.frames.length);
    await expectVideoSticker(result.data, 'npm.webm');
  });
});
