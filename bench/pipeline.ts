/**
 * Image pipeline benchmark: per-stage and end-to-end milliseconds on real fixtures, the bare model
 * time for the same calls (every model call the pipeline made, replayed alone with the same input
 * shapes), the overhead ratio between the two, and peak RSS.
 *
 * Targets on the 2-core reference machine: a 1024 px photo in `full` mode ≤ 2000 ms; end-to-end ≤ 1.25×
 * the bare model time.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { getConfig } from '#src/config.ts';
import { ImagePipeline } from '#src/pipeline/image-pipeline.ts';
import type { Mode, UpscaleFactor } from '#src/pipeline/modes.ts';
import type { AnimefyRequest } from '#src/pipeline/types.ts';
import { median, printTable, type BenchSection } from './report.ts';

interface Case {
  name: string;
  fixture: string;
  /** Resize the fixture so its long side is this (to bench a given photo size). */
  longSide?: number;
  style: string;
  mode: Mode;
  upscale?: UpscaleFactor;
  /** The 2 s target applies to this case. */
  target?: number;
}

const CASES: Case[] = [
  { name: 'photo 1024px full hayao', fixture: 'portrait_frontal_2.jpg', longSide: 1024, style: 'hayao', mode: 'full', target: 2000 },
  { name: 'portrait 512 full hayao', fixture: 'portrait_frontal_1.jpg', style: 'hayao', mode: 'full' },
  { name: 'portrait 768 full hayao', fixture: 'portrait_frontal_2.jpg', style: 'hayao', mode: 'full' },
  { name: 'group 3 faces full hayao', fixture: 'group_3faces.jpg', style: 'hayao', mode: 'full' },
  { name: 'group 6 faces full hayao', fixture: 'group_6faces.jpg', style: 'hayao', mode: 'full' },
  { name: 'landscape full shinkai', fixture: 'landscape_1.jpg', style: 'shinkai', mode: 'full' },
  { name: 'portrait 768 cartoon', fixture: 'portrait_frontal_2.jpg', style: 'cartoon', mode: 'full' },
  { name: 'portrait 768 borderlands', fixture: 'portrait_frontal_2.jpg', style: 'borderlands', mode: 'full' },
  { name: 'fullbody person hayao', fixture: 'fullbody_grass_dog.jpg', style: 'hayao', mode: 'person' },
  { name: 'portrait face avatar', fixture: 'portrait_glasses_1.jpg', style: 'hayao', mode: 'face' },
  { name: 'portrait 512 upscale x2', fixture: 'portrait_frontal_1.jpg', style: 'hayao', mode: 'full', upscale: 2 },
];

export async function benchPipeline(options: { runs: number; quick: boolean; filter?: string }): Promise<BenchSection> {
  const config = getConfig();
  const animefier = ImagePipeline.fromConfig(config);
  const runtime = animefier.runtime;
  const rows: Record<string, unknown>[] = [];
  const filtered = options.filter ? CASES.filter((c) => c.name.includes(options.filter!)) : CASES;
  const cases = options.quick ? filtered.slice(0, 2) : filtered;
  try {
    for (const c of cases) {
      let input = fs.readFileSync(path.join(config.ANIMEFY_FIXTURES_DIR, c.fixture));
      if (c.longSide) input = await sharp(input).resize(c.longSide, c.longSide, { fit: 'inside' }).jpeg({ quality: 92 }).toBuffer();
      const meta = await sharp(input).metadata();
      const request: AnimefyRequest = { style: c.style, mode: c.mode, upscale: c.upscale ?? 1, quality: 'fast', format: 'jpeg' };

      await animefier.animefy(input, request); // warm-up: sessions load, JIT settles
      const totals: number[] = [];
      const stageRuns: Record<string, number[]> = {};
      let calls = runtime.stopTrace();
      for (let i = 0; i < options.runs; i++) {
        runtime.startTrace();
        const result = await animefier.animefy(input, request);
        calls = runtime.stopTrace();
        totals.push(result.timings.total);
        for (const [stage, ms] of Object.entries(result.timings)) (stageRuns[stage] ??= []).push(ms);
      }
      // Bare model time: the same calls (model + input shape) alone, median of the runs.
      const bareRuns: number[] = [];
      for (let i = 0; i < options.runs; i++) {
        runtime.startTrace();
        for (const call of calls) await runtime.run(call.id, new Float32Array(call.dims.reduce((a, b) => a * b, 1)), call.dims);
        bareRuns.push(runtime.stopTrace().reduce((sum, call) => sum + call.ms, 0));
      }
      const total = median(totals);
      const bare = median(bareRuns);
      const stages = Object.fromEntries(Object.entries(stageRuns).filter(([s]) => s !== 'total').map(([s, v]) => [s, median(v)]));
      rows.push({
        case: c.name,
        size: `${meta.width}x${meta.height}`,
        total_ms: total,
        bare_model_ms: Math.round(bare),
        overhead: Math.round((total / bare) * 100) / 100,
        model_calls: calls.length,
        target_ms: c.target ?? null,
        meets_target: c.target ? total <= c.target : null,
        stages,
      });
      process.stderr.write(`  ${c.name}: ${total} ms (bare models ${Math.round(bare)} ms)\n`);
    }
  } finally {
    await animefier.dispose();
  }
  const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  printTable(
    'Image pipeline',
    rows.map((r) => ({
      case: r.case,
      size: r.size,
      'total ms': r.total_ms,
      'bare models ms': r.bare_model_ms,
      overhead: `${r.overhead}x`,
      stages: Object.entries(r.stages as Record<string, number>)
        .filter(([, ms]) => ms > 0)
        .map(([s, ms]) => `${s} ${ms}`)
        .join(', '),
    })),
  );
  return { name: 'pipeline', results: rows, peakRssMb };
}
