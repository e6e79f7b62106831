/**
 * GIF and video benchmark: end-to-end milliseconds (probe, decode, every frame, encode, mux), frames
 * stylized per second, the flicker index with temporal smoothing on and off, face model runs vs crops
 * reused, and the peak resident memory of the process (models included) while a clip runs.
 *
 * Target on the 2-core reference machine: the 3 s, 10 fps, 320 px GIF in ≤ 10 s end to end;
 * flicker index ≤ 1.3 on the fixtures.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getConfig } from '#src/config.ts';
import { ImagePipeline } from '#src/pipeline/image-pipeline.ts';
import type { MediaFormat } from '#src/pipeline/media/frames.ts';
import { MediaPipeline, type MediaRequest } from '#src/pipeline/media/media-pipeline.ts';
import { median, printTable, type BenchSection } from './report.ts';

interface Case {
  name: string;
  fixture: string;
  /** Re-encode the fixture at this size first (ffmpeg), to bench the working-size limit. */
  scaleTo?: string;
  format: MediaFormat;
  target?: number;
  /** Also run with temporal smoothing off, for the flicker comparison. */
  compare?: boolean;
  /** Overrides ANIMEFY_VIDEO_FACE_REUSE (the speed/expression trade-off). */
  faceReuse?: number;
}

const CASES: Case[] = [
  { name: 'GIF 3 s 10 fps 320px -> GIF', fixture: 'face_clip.gif', format: 'gif', target: 10_000, compare: true },
  { name: 'GIF 3 s 10 fps 320px -> GIF, face reuse 2', fixture: 'face_clip.gif', format: 'gif', target: 10_000, faceReuse: 2 },
  { name: 'GIF 3 s 10 fps 320px -> MP4', fixture: 'face_clip.gif', format: 'mp4' },
  { name: 'video 3 s 15 fps 160px -> MP4 + audio', fixture: 'talking_clip.mp4', format: 'mp4', compare: true },
  { name: 'video 3 s 15 fps 720px -> MP4 + audio', fixture: 'talking_clip.mp4', scaleTo: '720:540', format: 'mp4' },
];

export async function benchMedia(options: { runs: number; quick: boolean; filter?: string }): Promise<BenchSection> {
  const config = getConfig();
  const animefier = ImagePipeline.fromConfig(config);
  const defaults = MediaPipeline.fromConfig(config, animefier);
  const filtered = options.filter ? CASES.filter((c) => c.name.includes(options.filter!)) : CASES;
  const cases = options.quick ? filtered.slice(0, 1) : filtered;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'animefy-bench-'));
  const rows: Record<string, unknown>[] = [];
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  try {
    for (const c of cases) {
      const media = c.faceReuse === undefined ? defaults : new MediaPipeline(animefier, { ...defaults.settings, faceReuse: c.faceReuse });
      let input = fs.readFileSync(path.join(config.ANIMEFY_FIXTURES_DIR, c.fixture));
      if (c.scaleTo) {
        const file = path.join(scratch, `scaled${path.extname(c.fixture)}`);
        execFileSync(media.settings.paths.ffmpeg, ['-v', 'error', '-y', '-i', path.join(config.ANIMEFY_FIXTURES_DIR, c.fixture), '-vf', `scale=${c.scaleTo}`, '-c:a', 'copy', file]);
        input = fs.readFileSync(file);
      }
      const request: MediaRequest = { style: 'hayao', mode: 'full', quality: 'fast', format: c.format };
      await media.animefy(input, request); // warm-up: sessions load
      const totals: number[] = [];
      let last;
      for (let i = 0; i < options.runs; i++) {
        last = await media.animefy(input, request);
        totals.push(last.timings.total);
      }
      const result = last!;
      const off = c.compare && !options.quick ? await media.animefy(input, { ...request, temporal: 0 }) : undefined;
      const total = median(totals);
      rows.push({
        case: c.name,
        size: `${result.width}x${result.height}`,
        frames: result.media.frames,
        total_ms: total,
        frames_per_s: Math.round((result.media.frames / (total / 1000)) * 100) / 100,
        ms_per_frame: Math.round(total / result.media.frames),
        flicker: result.media.flicker ?? null,
        flicker_temporal_off: off?.media.flicker ?? null,
        face_runs: result.media.faceRuns,
        face_reuses: result.media.faceReuses,
        audio: result.media.hasAudio,
        output_kb: Math.round(result.data.length / 1024),
        target_ms: c.target ?? null,
        meets_target: c.target ? total <= c.target : null,
        stages: result.timings,
      });
      process.stderr.write(`  ${c.name}: ${total} ms, ${result.media.frames} frames, flicker ${result.media.flicker}\n`);
    }
  } finally {
    clearInterval(sampler);
    fs.rmSync(scratch, { recursive: true, force: true });
    await animefier.dispose();
  }
  const peakRssMb = Math.round(peakRss / 2 ** 20);
  printTable(
    'GIF and video',
    rows.map((r) => ({
      case: r.case,
      size: r.size,
      frames: r.frames,
      'total ms': r.total_ms,
      'frames/s': r.frames_per_s,
      'ms/frame': r.ms_per_frame,
      flicker: r.flicker,
      'flicker (smoothing off)': r.flicker_temporal_off ?? '',
      'face runs/reused': `${r.face_runs}/${r.face_reuses}`,
      'target ms': r.target_ms ?? '',
    })),
  );
  return { name: 'media', results: rows, peakRssMb };
}
