/**
 * Faces benchmark: on group pictures, how many faces each renderer drew (the face model where it drew
 * a face, else the scene model), the time of the faces stage and of the whole job, and the blank-mask
 * checks of the face tests (worst inner-face spread ratio, worst brightness gap). On portraits, the
 * face-to-neck colour difference (Lab ΔE) of the input and the output.
 *
 * The derived groups (a crowd of 30 small faces, a group in shadow, glasses in warm light) are made
 * from the fixtures by test/helpers/face-metrics.ts, as in the tests.
 */
import { getConfig } from '#src/config.ts';
import { ImagePipeline } from '#src/pipeline/image-pipeline.ts';
import type { AnimefyRequest } from '#src/pipeline/types.ts';
import { checkFaces, decodeRgb, FACE_GROUPS, faceToNeckDeltaE } from '../test/helpers/face-metrics.ts';
import { fixture } from '../test/helpers/fixtures.ts';
import { median, printTable, round1, type BenchSection } from './report.ts';

const PORTRAITS = ['portrait_frontal_2.jpg', 'portrait_glasses_1.jpg', 'portrait_facepaint_1.jpg', 'fullbody_grass_dog.jpg', 'portrait_frontal_1.jpg'];

export async function benchFaces(options: { runs: number; quick: boolean; filter?: string }): Promise<BenchSection> {
  const animefier = ImagePipeline.fromConfig(getConfig());
  const request: AnimefyRequest = { style: 'hayao', mode: 'full', upscale: 1, quality: 'fast', format: 'png' };
  const groups: Record<string, unknown>[] = [];
  const portraits: Record<string, unknown>[] = [];
  const filtered = options.filter ? FACE_GROUPS.filter((g) => g.name.includes(options.filter!)) : FACE_GROUPS;
  try {
    for (const group of options.quick ? filtered.slice(0, 2) : filtered) {
      const bytes = await group.input();
      await animefier.animefy(bytes, request); // warm-up
      const totals: number[] = [];
      const faceStage: number[] = [];
      let result = await animefier.animefy(bytes, request);
      for (let i = 0; i < options.runs; i++) {
        result = await animefier.animefy(bytes, request);
        totals.push(result.timings.total);
        faceStage.push(result.timings.face_stylize ?? 0);
      }
      const checks = checkFaces(await decodeRgb(bytes), await decodeRgb(result.data), result.faceBoxes);
      const byModel = result.faceBoxes.filter((f) => f.renderer === 'face-model').length;
      groups.push({
        case: group.name,
        faces: result.faces,
        face_model: byModel,
        scene: result.faces - byModel,
        face_model_share: result.faces ? round1((100 * byModel) / result.faces) : null,
        min_spread_ratio: checks.length ? Math.round(Math.min(...checks.map((c) => c.spread)) * 100) / 100 : null,
        max_brightness_gap: checks.length ? round1(Math.max(...checks.map((c) => Math.abs(c.brightness)))) : null,
        faces_stage_ms: median(faceStage),
        total_ms: median(totals),
      });
      process.stderr.write(`  ${group.name}: ${byModel}/${result.faces} by the face model, ${median(totals)} ms\n`);
    }
    for (const name of options.quick ? PORTRAITS.slice(0, 1) : PORTRAITS) {
      const bytes = fixture(name);
      const result = await animefier.animefy(bytes, request);
      const face = [...result.faceBoxes].sort((a, b) => b.w * b.h - a.w * a.h)[0];
      if (!face) continue;
      const before = faceToNeckDeltaE(await decodeRgb(bytes), face);
      const after = faceToNeckDeltaE(await decodeRgb(result.data), face);
      portraits.push({ case: name, face_px: Math.max(face.w, face.h), renderer: face.renderer, input_delta_e: round1(before), output_delta_e: round1(after), growth: round1(after - before) });
    }
  } finally {
    await animefier.dispose();
  }
  printTable(
    'Faces: renderer per face on group pictures (hayao, fast)',
    groups.map((g) => ({
      case: g.case,
      faces: g.faces,
      'face model': g.face_model,
      scene: g.scene,
      'face model %': g.face_model_share,
      'min spread': g.min_spread_ratio,
      'max brightness gap': g.max_brightness_gap,
      'faces stage ms': g.faces_stage_ms,
      'total ms': g.total_ms,
    })),
  );
  printTable(
    'Faces: face-to-neck colour difference (Lab ΔE, median face interior vs below the chin)',
    portraits.map((p) => ({ case: p.case, 'face px': p.face_px, renderer: p.renderer, input: p.input_delta_e, output: p.output_delta_e, growth: p.growth })),
  );
  return { name: 'faces', results: groups, portraits, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
}
