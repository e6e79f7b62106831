/**
 * Test fixtures and shared model runtime. Fixtures are read from ANIMEFY_FIXTURES_DIR (default
 * ../shared/fixtures beside the repo); they are never committed.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { getConfig } from '#src/config.ts';
import { ModelRuntime } from '#src/models/runtime.ts';
import { ImagePipeline } from '#src/pipeline/image-pipeline.ts';
import type { Image } from '#src/pipeline/image.ts';

export const config = getConfig();
export const FIXTURES_DIR = config.ANIMEFY_FIXTURES_DIR;

export function fixturePath(name: string): string {
  const file = path.join(FIXTURES_DIR, name);
  if (!fs.existsSync(file)) {
    throw new Error(`Fixture ${name} not found in ${FIXTURES_DIR}: set ANIMEFY_FIXTURES_DIR to the fixtures directory`);
  }
  return file;
}

export function fixture(name: string): Buffer {
  return fs.readFileSync(fixturePath(name));
}

let runtime: ModelRuntime | undefined;
let animefier: ImagePipeline | undefined;

/** One runtime per test file (sessions load once). */
export function sharedRuntime(): ModelRuntime {
  runtime ??= ModelRuntime.fromConfig(config);
  return runtime;
}

export function sharedAnimefier(): ImagePipeline {
  animefier ??= ImagePipeline.fromConfig(config);
  return animefier;
}

/** Decodes encoded bytes to raw RGB with sharp (independent of our decoder). */
export async function rawRgb(bytes: Buffer): Promise<{ width: number; height: number; data: Buffer; channels: number }> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data, channels: info.channels };
}

export function meanAbsDiff(a: Uint8Array | Float32Array, b: Uint8Array | Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

export function synthetic(width: number, height: number, f: (x: number, y: number, c: number) => number): Image {
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = f(x, y, c);
  return { width, height, data };
}
