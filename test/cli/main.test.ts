/**
 * The `animefy` command as a user runs it: a real process, real files.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '#src/config.ts';
import { STYLES } from '#src/pipeline/styles.ts';
import { fixturePath } from '../helpers/fixtures.ts';

const BIN = path.join(REPO_ROOT, 'bin', 'animefy.mjs');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'animefy-cli-'));
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

function animefy(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: out, env: { ...process.env, LOG_LEVEL: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('animefy CLI', () => {
  it('turns several photos into anime in one call, with progress on stderr and one JSON line each', async () => {
    const inputs = [fixturePath('portrait_frontal_1.jpg'), fixturePath('group_3faces.jpg')];
    const run = await animefy([...inputs, '--style', 'shinkai', '--out', path.join(out, 'results'), '--json']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ input: inputs[0], width: 512, height: 512, style: 'shinkai', mode: 'full', faces: 1 });
    expect(lines[1]).toMatchObject({ input: inputs[1], width: 600, height: 471, faces: 3 });
    for (const line of lines) {
      expect(line.timings.total).toBeGreaterThan(0);
      expect(line.timings.stylize).toBeGreaterThan(0);
      const meta = await sharp(line.output).metadata();
      expect([meta.width, meta.height]).toEqual([line.width, line.height]);
      expect(meta.format).toBe('jpeg'); // same format as the input
    }
    // Progress names the stages.
    for (const stage of ['decode', 'faces', 'stylize', 'encode']) expect(run.stderr).toContain(stage);
  });

  it('writes to the file named by --out in the format its extension asks for', async () => {
    const target = path.join(out, 'avatar.webp');
    const run = await animefy([fixturePath('portrait_glasses_1.jpg'), '--mode', 'face', '--out', target]);
    expect(run.code, run.stderr).toBe(0);
    const meta = await sharp(target).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['webp', 512, 512]);
  });

  it('turns a video into an MP4 with its sound, reporting frames and flicker in the JSON line', async () => {
    const run = await animefy([fixturePath('talking_clip.mp4'), '--json']);
    expect(run.code, run.stderr).toBe(0);
    const line = JSON.parse(run.stdout.trim());
    expect(line.output).toBe('talking_clip.hayao.mp4');
    expect(line.media).toMatchObject({ frames: 45, fps: 15, hasAudio: true });
    expect(line.media.flicker).toBeLessThanOrEqual(1.3);
    const mp4 = fs.readFileSync(path.join(out, line.output));
    expect(mp4.subarray(4, 8).toString()).toBe('ftyp');
    expect(run.stderr).toContain('frames');
  });

  it('fails with a one-line reason and a non-zero code on bad input, and keeps going with the others', async () => {
    const text = path.join(out, 'notes.txt');
    fs.writeFileSync(text, 'not a picture');
    const run = await animefy([text, path.join(out, 'missing.jpg'), fixturePath('portrait_frontal_1.jpg'), '--json', '--out', out]);
    expect(run.code).toBe(1);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ input: text, error: 'NOT_AN_IMAGE' });
    expect(lines[1]).toMatchObject({ error: 'INPUT_UNREADABLE' });
    expect(lines[1].message).toMatch(/no such file/);
    expect(lines[2].width).toBe(512);
    expect(run.stderr).toMatch(/notes\.txt failed: That file doesn't look like an image/);
  });

  it('rejects unknown options and styles with usage code 2', async () => {
    const style = await animefy([fixturePath('portrait_frontal_1.jpg'), '--style', 'vaporwave']);
    expect(style.code).toBe(2);
    expect(style.stderr).toMatch(/vaporwave/);
    expect(style.stderr.trim().split('\n')).toHaveLength(2);
    const upscale = await animefy([fixturePath('portrait_frontal_1.jpg'), '--upscale', '3']);
    expect(upscale.code).toBe(2);
    const none = await animefy([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no input/);
  });

  it('numbers the people, stylizes only the one picked, and erases one: people in the JSON line', async () => {
    const group = fixturePath('group_3faces.jpg');
    const people = await animefy(['people', group, '--json']);
    expect(people.code, people.stderr).toBe(0);
    const listed = JSON.parse(people.stdout.trim());
    expect(listed).toMatchObject({ output: 'group_3faces.people.jpg', operation: 'people', width: 1024 });
    expect(listed.people.map((p: { index: number }) => p.index)).toEqual([1, 2, 3]);
    for (const p of listed.people) expect(Object.keys(p).sort()).toEqual(['h', 'index', 'score', 'w', 'x', 'y']);
    expect((await sharp(path.join(out, listed.output)).metadata()).format).toBe('jpeg');

    const picked = await animefy([group, '--person', '2', '--json']);
    expect(picked.code, picked.stderr).toBe(0);
    const line = JSON.parse(picked.stdout.trim());
    expect(line).toMatchObject({ output: 'group_3faces.hayao.person-2.jpg', mode: 'person', chosen: [2], width: 600, height: 471 });
    expect(line.people).toEqual(listed.people);
    expect(picked.stderr).toMatch(/3 people, stylized person 2/);

    const erased = await animefy(['erase', group, '--person', '3', '--json']);
    expect(erased.code, erased.stderr).toBe(0);
    expect(JSON.parse(erased.stdout.trim())).toMatchObject({ output: 'group_3faces.erased-3.jpg', operation: 'erase', chosen: [3] });
    expect(fs.existsSync(path.join(out, 'group_3faces.erased-3.jpg'))).toBe(true);
  });

  it('says how many people there are for a person that is not there, and refuses --person outside person mode', async () => {
    const missing = await animefy([fixturePath('group_3faces.jpg'), '--person', '7', '--json']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout.trim())).toMatchObject({ error: 'PERSON_NOT_FOUND' });
    expect(missing.stderr).toMatch(/There are 3 people in that picture .* no person 7/);
    const wrongMode = await animefy([fixturePath('group_3faces.jpg'), '--person', '1', '--mode', 'background']);
    expect(wrongMode.code).toBe(2);
    expect(wrongMode.stderr).toMatch(/person mode and for erase/);
    const bad = await animefy([fixturePath('group_3faces.jpg'), '--person', 'the tall one']);
    expect(bad.code).toBe(2);
    const clip = await animefy(['erase', fixturePath('face_clip.gif'), '--json']);
    expect(clip.code).toBe(1);
    expect(JSON.parse(clip.stdout.trim())).toMatchObject({ error: 'ERASE_NOT_FOR_CLIPS' });
  });

  it('makes a sticker and an animated emoji with kind in the JSON line, and refuses a caption the font lacks', async () => {
    const sticker = await animefy(['sticker', fixturePath('portrait_frontal_1.jpg'), '--json']);
    expect(sticker.code, sticker.stderr).toBe(0);
    const line = JSON.parse(sticker.stdout.trim());
    expect(line).toMatchObject({ output: 'portrait_frontal_1.sticker.webp', kind: 'sticker', operation: 'sticker' });
    const meta = await sharp(path.join(out, line.output)).metadata();
    expect([meta.format, meta.hasAlpha, Math.max(meta.width!, meta.height!)]).toEqual(['webp', true, 512]);

    const emoji = await animefy(['emoji', fixturePath('portrait_frontal_1.jpg'), '--effect', 'spin', '--text', 'gm', '--json']);
    expect(emoji.code, emoji.stderr).toBe(0);
    const animated = JSON.parse(emoji.stdout.trim());
    expect(animated).toMatchObject({ output: 'portrait_frontal_1.emoji-spin.gif', kind: 'emoji', width: 128, height: 128 });
    expect(animated.media.frames).toBeGreaterThan(10);
    expect(fs.statSync(path.join(out, animated.output)).size).toBeLessThanOrEqual(256 * 1024);

    const tofu = await animefy(['emoji', fixturePath('portrait_frontal_1.jpg'), '--text', 'gm 🔥', '--json']);
    expect(tofu.code).toBe(1);
    expect(JSON.parse(tofu.stdout.trim())).toMatchObject({ error: 'CAPTION_UNSUPPORTED' });
    const misplaced = await animefy([fixturePath('portrait_frontal_1.jpg'), '--effect', 'spin']);
    expect(misplaced.code).toBe(2);
    expect(misplaced.stderr).toMatch(/--effect goes with animefy emoji/);
  });

  it('smiles on a real photo and writes landmarks with their points as JSON', async () => {
    const smile = await animefy(['smile', fixturePath('portrait_frontal_2.jpg'), '--amount', '0.8', '--json']);
    expect(smile.code, smile.stderr).toBe(0);
    expect(JSON.parse(smile.stdout.trim())).toMatchObject({ output: 'portrait_frontal_2.smile.jpg', operation: 'smile', faces: 1 });

    const pointsFile = path.join(out, 'clip.points.json');
    const marked = await animefy(['landmarks', fixturePath('face_clip.gif'), '--points', pointsFile, '--json']);
    expect(marked.code, marked.stderr).toBe(0);
    const line = JSON.parse(marked.stdout.trim());
    expect(line).toMatchObject({ output: 'face_clip.landmarks.gif', operation: 'landmarks', points: pointsFile });
    const points = JSON.parse(fs.readFileSync(pointsFile, 'utf8'));
    expect(points.frames).toBe(line.media.frames);
    const framesWithFaces = new Set(points.faces.map((f: { frame: number }) => f.frame));
    expect(framesWithFaces.size).toBe(line.media.frames);
    expect(points.faces[0]).toMatchObject({ kind: 'real', id: expect.any(Number) });
    expect(points.faces[0].points).toHaveLength(68);
  });

  it('lists the styles from the registry and prints help', async () => {
    const list = await animefy(['--list-styles']);
    expect(list.code).toBe(0);
    for (const s of STYLES) expect(list.stdout).toContain(s.id);
    const help = await animefy(['--help']);
    expect(help.stdout).toMatch(/--style.*--mode|Usage: animefy/s);
    expect(help.stdout).toMatch(/animefy erase <input/);
    expect(help.stdout).toMatch(/animefy people <input/);
    expect(help.stdout).toMatch(/-p, --person <who>/);
    for (const command of ['sticker', 'emoji', 'smile', 'landmarks']) expect(help.stdout).toContain(`animefy ${command} <input`);
    expect(help.stdout).toMatch(/hearts/);
  });
});
