import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AnimefyError } from '#src/errors.ts';
import { loadManifest } from '#src/models/manifest.ts';
import { ModelRuntime } from '#src/models/runtime.ts';
import { ImagePipeline, settingsFromConfig } from '#src/pipeline/image-pipeline.ts';
import { config, fixture, meanAbsDiff, rawRgb } from '../helpers/fixtures.ts';

const temps: string[] = [];
function tempModelsDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'animefy-models-'));
  temps.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
});

describe('model runtime', () => {
  it('names the missing file and the fix when a model is absent', async () => {
    const runtime = new ModelRuntime({ modelsDir: tempModelsDir(), manifest: loadManifest(config.ANIMEFY_MODELS_DIR) });
    const err = (await runtime.load('yunet').catch((e: unknown) => e)) as AnimefyError;
    expect(err).toBeInstanceOf(AnimefyError);
    expect(err.code).toBe('MODEL_MISSING');
    expect(err.message).toContain('face_yunet_n_dynamic.onnx');
    expect(err.message).toContain('npm run models');
  });

  it('refuses a corrupt model file', async () => {
    const dir = tempModelsDir();
    const manifest = loadManifest(config.ANIMEFY_MODELS_DIR);
    const entry = manifest.get('yunet');
    const bytes = fs.readFileSync(path.join(config.ANIMEFY_MODELS_DIR, entry.file));
    bytes[1000] ^= 0xff; // same size, one flipped byte
    fs.writeFileSync(path.join(dir, entry.file), bytes);
    const runtime = new ModelRuntime({ modelsDir: dir, manifest });
    await expect(runtime.load('yunet')).rejects.toMatchObject({ code: 'MODEL_CORRUPT' });
  });

  it('loads a session once, shares it between concurrent callers, and reloads after dispose', async () => {
    const runtime = ModelRuntime.fromConfig(config);
    const [a, b] = await Promise.all([runtime.load('selfie'), runtime.load('selfie')]);
    expect(a).toBe(b);
    await runtime.dispose();
    const c = await runtime.load('selfie');
    expect(c).not.toBe(a);
    await runtime.dispose();
  });

  it('converts float16 models transparently (same answer as the float32 variant)', async () => {
    const runtime = ModelRuntime.fromConfig(config);
    const input = new Float32Array(1 * 64 * 64 * 3).map((_, i) => Math.sin(i / 50) * 0.9);
    const fp32 = await runtime.run('hayao', input, [1, 64, 64, 3]);
    const fp16 = await runtime.run('hayao_fp16', input, [1, 64, 64, 3]);
    expect(fp16.dims).toEqual([1, 64, 64, 3]);
    expect(meanAbsDiff(fp16.data, fp32.data)).toBeLessThan(0.01);
    await runtime.dispose();
  });

  it('uses a trained generator dropped into models/ for a recipe style', async () => {
    // A models dir with links to the installed weights plus "genshin.onnx" described in manifest.local.json.
    const dir = tempModelsDir();
    for (const file of fs.readdirSync(config.ANIMEFY_MODELS_DIR)) {
      if (file.endsWith('.onnx')) fs.symlinkSync(path.join(config.ANIMEFY_MODELS_DIR, file), path.join(dir, file));
    }
    fs.copyFileSync(path.join(config.ANIMEFY_MODELS_DIR, 'animeganv3_hayao_36_opt.onnx'), path.join(dir, 'genshin.onnx'));
    fs.writeFileSync(
      path.join(dir, 'manifest.local.json'),
      JSON.stringify({
        version: 1,
        models: [
          {
            id: 'genshin',
            file: 'genshin.onnx',
            kind: 'generator',
            role: 'trained Genshin generator (test stand-in)',
            licence: 'test',
            commercialUse: false,
            input: { dtype: 'float32' },
            output: { dtype: 'float32' },
            multipleOf: 8,
          },
        ],
      }),
    );
    const runtime = new ModelRuntime({ modelsDir: dir, verify: false });
    const animefier = new ImagePipeline(runtime, settingsFromConfig(config));
    expect(animefier.style('genshin').trained).toBe(true);
    expect(animefier.style('shinchan').trained).toBe(false);
    const request = { style: 'genshin', mode: 'full', upscale: 1, quality: 'fast', format: 'png' } as const;
    const trained = await rawRgb((await animefier.animefy(fixture('portrait_frontal_1.jpg'), request)).data);
    await animefier.dispose();
    const recipe = new ImagePipeline(ModelRuntime.fromConfig(config), settingsFromConfig(config));
    const recipeOut = await rawRgb((await recipe.animefy(fixture('portrait_frontal_1.jpg'), request)).data);
    await recipe.dispose();
    const photo = await rawRgb(fixture('portrait_frontal_1.jpg'));
    expect(trained.width).toBe(512);
    expect(meanAbsDiff(trained.data, photo.data)).toBeGreaterThan(3);
    expect(meanAbsDiff(trained.data, recipeOut.data)).toBeGreaterThan(3);
  });

});
