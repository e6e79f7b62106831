/**
 * Stickers, emoji, filters, smile and landmarks (Steps 10 and 11), through `animefyAny` as the
 * workers run them, on fixtures scaled to 1024 px (hayao, fast):
 *
 * - sticker (head and shoulders; target ≤ 2.5 s), with ISNet (`high`), and `body` on a group photo;
 * - emoji: a Telegram video sticker (WebM, 512 px; target ≤ 5 s) and a Discord GIF (128 px);
 * - the three model-free filters, whole job;
 * - smile: the `smile` operation, and `--smile` with a style against the same job without it, run
 *   interleaved (target: ≤ +300 ms);
 * - landmarks on the GIF fixture: milliseconds per frame of the frame loop (target ≤ 60 ms per
 *   320 px frame).
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { getConfig } from '#src/config.ts';
import { animefyAny, type AnyRequest, type Pipelines } from '#src/pipeline/animefy-any.ts';
import { ImagePipeline } from '#src/pipeline/image-pipeline.ts';
import { MediaPipeline } from '#src/pipeline/media/media-pipeline.ts';
import { median, printTable, processMonitor, type BenchSection } from './report.ts';

const LONG_SIDE = 1024;

interface Case {
  name: string;
  input: Buffer;
  request: AnyRequest;
  target?: string;
  /** Per frame instead of per job. */
  perFrame?: boolean;
  /** Reported as the difference to this case. */
  against?: string;
  /** A stage whose own time is reported too. */
  stage?: string;
}

export async function benchFun(options: { runs: number; quick: boolean; filter?: string }): Promise<BenchSection> {
  const config = getConfig();
  const image = ImagePipeline.fromConfig(config);
  const pipelines: Pipelines = { image, media: MediaPipeline.fromConfig(config, image) };
  const read = (name: string) => fs.readFileSync(path.join(config.ANIMEFY_FIXTURES_DIR, name));
  const load = async (name: string) => sharp(read(name)).resize(LONG_SIDE, LONG_SIDE, { fit: 'inside', kernel: 'lanczos3' }).jpeg({ quality: 92 }).toBuffer();
  const portrait = await load('portrait_frontal_1.jpg');
  const group = await load('group_3faces.jpg');
  const street = await load('street_1.jpg');
  const gif = read('face_clip.gif');
  const base: AnyRequest = { style: 'hayao', mode: 'full', upscale: 1, quality: 'fast' };
  const all: Case[] = [
    { name: 'sticker, portrait', input: portrait, request: { ...base, operation: 'sticker', format: 'webp' }, target: '≤ 2500 ms' },
    { name: 'sticker, portrait, ISNet (high)', input: portrait, request: { ...base, quality: 'high', operation: 'sticker', format: 'webp' } },
    { name: 'sticker --body, group', input: group, request: { ...base, operation: 'sticker', body: true, format: 'webp' } },
    { name: 'emoji hearts "gm", WebM 512', input: portrait, request: { ...base, operation: 'emoji', effect: 'hearts', text: 'gm', format: 'webm' }, target: '≤ 5000 ms' },
    { name: 'emoji spin, GIF 128', input: portrait, request: { ...base, operation: 'emoji', effect: 'spin', format: 'gif' } },
    { name: 'nostalgic, street', input: street, request: { ...base, style: 'nostalgic', format: 'jpeg' } },
    { name: 'papercut, street', input: street, request: { ...base, style: 'papercut', format: 'jpeg' } },
    { name: 'comic, street', input: street, request: { ...base, style: 'comic', format: 'jpeg' } },
    { name: 'smile (real photo)', input: portrait, request: { ...base, operation: 'smile', smile: 0.6, format: 'jpeg' } },
    { name: 'hayao, portrait', input: portrait, request: { ...base, format: 'jpeg' } },
    { name: 'hayao --smile, portrait', input: portrait, request: { ...base, smile: 0.6, format: 'jpeg' }, against: 'hayao, portrait', stage: 'smile', target: '≤ +300 ms' },
    { name: 'landmarks, face_clip.gif (per frame)', input: gif, request: { ...base, operation: 'landmarks' }, perFrame: true, target: '≤ 60 ms per 320 px frame' },
  ];
  const cases = all.filter((c) => !options.filter || c.name.includes(options.filter));
  const times: Record<string, number[]> = {};
  const stages: Record<string, number[]> = {};
  const details: Record<string, string> = {};
  const monitor = processMonitor();
  try {
    for (const c of cases) await animefyAny(pipelines, c.input, c.request); // warm-up: every session loaded
    const rounds = options.quick ? 1 : options.runs;
    for (let i = 0; i < rounds; i++) {
      for (const c of cases) {
        const result = await animefyAny(pipelines, c.input, c.request);
        const frames = result.media?.frames ?? 1;
        (times[c.name] ??= []).push(c.perFrame ? (result.timings.frames ?? result.timings.total) / frames : result.timings.total);
        if (c.stage) (stages[c.name] ??= []).push(result.timings[c.stage] ?? NaN);
        details[c.name] = `${result.width}x${result.height} ${result.format}, ${Math.round(result.data.byteLength / 1024)} KB${result.media ? `, ${frames} frames` : ''}`;
      }
    }
  } finally {
    monitor.stop();
    await image.dispose();
  }
  const rows = cases.map((c) => {
    const ms = Math.round(median(times[c.name]));
    const against = c.against && times[c.against] ? Math.round(median(times[c.against])) : undefined;
    return {
      case: c.name,
      result: details[c.name],
      ms,
      extra_ms: against === undefined ? null : ms - against,
      stage_ms: c.stage ? `${c.stage} ${Math.round(median(stages[c.name]))}` : '',
      target: c.target ?? '',
    };
  });
  printTable(
    `Stickers, emoji, filters, smile, landmarks: fixtures at ${LONG_SIDE} px (the GIF as it is), hayao, fast, median of ${options.quick ? 1 : options.runs} interleaved runs`,
    rows,
  );
  return { name: 'fun', results: rows, peakRssMb: monitor.peakRssMb() };
}
