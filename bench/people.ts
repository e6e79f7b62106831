/**
 * People benchmark: picking and erasing people on a group photo scaled to 1024 px (hayao, fast).
 *
 * - `--person 2` against `full` mode on the same picture, run interleaved (full, person, full,
 *   person …) so a busy machine slows both alike; target: person ≤ 1.3× full.
 * - erase of person 2; target ≤ 3 s on the 2-core reference machine.
 * - the picker preview.
 * - for contrast, person mode against full mode on a one-person portrait at 1024 px, where the
 *   scene model runs on nearly the whole picture anyway and the rebuilt outline is pure extra cost.
 *
 * Each row has the median total, the median time of the inpaint inside it, and the people stage
 * (`mask`: detector + segmenter + the per-person cut).
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { getConfig } from '#src/config.ts';
import { ImagePipeline } from '#src/pipeline/image-pipeline.ts';
import type { AnimefyRequest } from '#src/pipeline/types.ts';
import { median, printTable, type BenchSection } from './report.ts';

const GROUP = 'group_6faces.jpg';
const PORTRAIT = 'portrait_frontal_2.jpg';
const LONG_SIDE = 1024;
const PERSON_TARGET = 1.3;
const ERASE_TARGET_MS = 3000;

export async function benchPeople(options: { runs: number; quick: boolean; filter?: string }): Promise<BenchSection> {
  const config = getConfig();
  const animefier = ImagePipeline.fromConfig(config);
  const load = async (name: string) =>
    sharp(fs.readFileSync(path.join(config.ANIMEFY_FIXTURES_DIR, name)))
      .resize(LONG_SIDE, LONG_SIDE, { fit: 'inside', kernel: 'lanczos3' })
      .jpeg({ quality: 92 })
      .toBuffer();
  const group = await load(GROUP);
  const portrait = await load(PORTRAIT);
  const sizeOf = async (b: Buffer) => {
    const m = await sharp(b).metadata();
    return `${m.width}x${m.height}`;
  };
  const base: AnimefyRequest = { style: 'hayao', mode: 'full', upscale: 1, quality: 'fast', format: 'jpeg' };
  const all: { name: string; input: Buffer; request: AnimefyRequest; against?: string }[] = [
    { name: 'group full', input: group, request: base },
    { name: 'group --person 2', input: group, request: { ...base, mode: 'person', person: [2] }, against: 'group full' },
    { name: 'group erase --person 2', input: group, request: { ...base, mode: 'person', operation: 'erase', person: [2] }, against: 'group full' },
    { name: 'group people preview', input: group, request: { ...base, operation: 'people' }, against: 'group full' },
    { name: 'portrait full', input: portrait, request: base },
    { name: 'portrait person', input: portrait, request: { ...base, mode: 'person' }, against: 'portrait full' },
  ];
  const cases = all.filter((c) => !options.filter || c.name.includes(options.filter));
  const sizes = new Map<Buffer, string>([
    [group, await sizeOf(group)],
    [portrait, await sizeOf(portrait)],
  ]);
  const runs: Record<string, { total: number[]; inpaint: number[]; mask: number[] }> = {};
  try {
    for (const c of cases) await animefier.animefy(c.input, c.request); // warm-up: every session loaded
    const rounds = options.quick ? 1 : options.runs;
    for (let i = 0; i < rounds; i++) {
      for (const c of cases) {
        const result = await animefier.animefy(c.input, c.request);
        const r = (runs[c.name] ??= { total: [], inpaint: [], mask: [] });
        r.total.push(result.timings.total);
        r.inpaint.push(result.timings.inpaint ?? 0);
        r.mask.push(result.timings.mask ?? 0);
      }
    }
  } finally {
    await animefier.dispose();
  }
  const rows = cases.map((c) => {
    const r = runs[c.name];
    const total = median(r.total);
    const against = c.against && runs[c.against] ? median(runs[c.against].total) : undefined;
    const target =
      c.name === 'group --person 2' ? `≤ ${PERSON_TARGET}× full` : c.name.includes('erase') ? `≤ ${ERASE_TARGET_MS} ms` : '';
    return {
      case: c.name,
      size: sizes.get(c.input),
      total_ms: total,
      vs_full: against ? Math.round((total / against) * 100) / 100 : null,
      inpaint_ms: median(r.inpaint) || null,
      people_stage_ms: median(r.mask) || null,
      target,
    };
  });
  printTable(
    `People: ${GROUP} and ${PORTRAIT} at ${LONG_SIDE} px, hayao, fast, median of ${options.quick ? 1 : options.runs} interleaved runs`,
    rows.map((r) => ({
      case: r.case,
      size: r.size,
      'total ms': r.total_ms,
      '× full': r.vs_full ?? '',
      'inpaint ms': r.inpaint_ms ?? '',
      'people stage ms': r.people_stage_ms ?? '',
      target: r.target,
    })),
  );
  return { name: 'people', results: rows, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
}
