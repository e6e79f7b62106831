/**
 * The one model runtime: onnxruntime sessions created lazily, once per model, and cached until
 * `dispose()`. Execution providers and threads come from config; float16 I/O is converted here from
 * the manifest, so callers always pass and receive Float32Array.
 */
import { statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Config } from '../config.ts';
import { childLogger } from '../log.ts';
import { decodeFloat16, encodeFloat16 } from './fp16.ts';
import { loadManifest, type Manifest, type ModelEntry } from './manifest.ts';
import { verifyModelFile } from './verify.ts';

export type ExecutionProvider = Config['ANIMEFY_EXECUTION_PROVIDERS'][number];

export interface RuntimeOptions {
  modelsDir: string;
  manifest?: Manifest;
  executionProviders?: readonly ExecutionProvider[];
  /** Intra-op threads per session; 0 = one per core. */
  threads?: number;
  /** Check size and sha256 of each file on first load. */
  verify?: boolean;
  /** onnxruntime's CPU memory arena: `auto` (default) follows each manifest entry's `memArena`. */
  cpuMemArena?: 'auto' | 'on' | 'off';
}

export interface TensorOut {
  data: Float32Array;
  dims: readonly number[];
}

export interface ModelCall {
  id: string;
  dims: number[];
  ms: number;
}

interface LoadedModel {
  entry: ModelEntry;
  session: ort.InferenceSession;
  inputName: string;
  outputName: string;
}

const log = () => childLogger({ module: 'runtime' });

export class ModelRuntime {
  readonly manifest: Manifest;
  readonly modelsDir: string;
  private readonly providers: readonly ExecutionProvider[];
  private readonly threads: number;
  private readonly verify: boolean;
  private readonly cpuMemArena: 'auto' | 'on' | 'off';
  private readonly sessions = new Map<string, Promise<LoadedModel>>();
  /** When set, every run's model and input shape is recorded (benchmarks replay them bare). */
  private trace: ModelCall[] | undefined;

  constructor(options: RuntimeOptions) {
    this.modelsDir = options.modelsDir;
    this.manifest = options.manifest ?? loadManifest(options.modelsDir);
    this.providers = options.executionProviders?.length ? options.executionProviders : ['cpu'];
    this.threads = options.threads || os.availableParallelism();
    this.verify = options.verify ?? true;
    this.cpuMemArena = options.cpuMemArena ?? 'auto';
  }

  static fromConfig(config: Config): ModelRuntime {
    return new ModelRuntime({
      modelsDir: config.ANIMEFY_MODELS_DIR,
      executionProviders: config.ANIMEFY_EXECUTION_PROVIDERS,
      threads: config.ANIMEFY_THREADS,
      verify: config.ANIMEFY_VERIFY_MODELS,
      cpuMemArena: config.ANIMEFY_CPU_MEM_ARENA,
    });
  }

  /** The manifest entry that will actually run for `id` (its fallback when the file is absent). */
  entry(id: string): ModelEntry {
    return this.manifest.resolveAvailable(id, this.modelsDir);
  }

  /** True when `id` (or a fallback) has its file in the models directory. */
  isAvailable(id: string): boolean {
    if (!this.manifest.has(id)) return false;
    return verifyPresence(this.modelsDir, this.entry(id));
  }

  /** Loads (once) and returns the session for a model id. Concurrent callers share one load. */
  load(id: string): Promise<LoadedModel> {
    const entry = this.entry(id);
    let pending = this.sessions.get(entry.id);
    if (!pending) {
      pending = this.createSession(entry);
      this.sessions.set(entry.id, pending);
      pending.catch(() => this.sessions.delete(entry.id));
    }
    return pending;
  }

  /** Runs a single-input single-output model. Input and output are float32 whatever the model's dtype. */
  async run(id: string, input: Float32Array, dims: readonly number[]): Promise<TensorOut> {
    const model = await this.load(id);
    const outputs = await this.execute(model, input, dims, [model.outputName]);
    return outputs[model.outputName];
  }

  /** Runs a model and returns the named outputs (e.g. YuNet's twelve heads). */
  async runOutputs(
    id: string,
    input: Float32Array,
    dims: readonly number[],
    outputNames: readonly string[],
  ): Promise<Record<string, TensorOut>> {
    const model = await this.load(id);
    return this.execute(model, input, dims, outputNames);
  }

  /** Starts recording every model call (id, input dims, ms) until `stopTrace()`. */
  startTrace(): void {
    this.trace = [];
  }

  stopTrace(): ModelCall[] {
    const calls = this.trace ?? [];
    this.trace = undefined;
    return calls;
  }

  /** Releases every session; the runtime can load them again afterwards. */
  async dispose(): Promise<void> {
    const pending = [...this.sessions.values()];
    this.sessions.clear();
    for (const p of pending) {
      try {
        const model = await p;
        await model.session.release();
      } catch {
        // A session that failed to load has nothing to release.
      }
    }
  }

  private async execute(
    model: LoadedModel,
    input: Float32Array,
    dims: readonly number[],
    outputNames: readonly string[],
  ): Promise<Record<string, TensorOut>> {
    const { entry, session } = model;
    const tensor =
      entry.input.dtype === 'float16'
        ? new ort.Tensor('float16', encodeFloat16(input), dims)
        : new ort.Tensor('float32', input, dims);
    const started = performance.now();
    const results = await session.run({ [model.inputName]: tensor }, outputNames as string[]);
    const ms = performance.now() - started;
    this.trace?.push({ id: entry.id, dims: [...dims], ms });
    tensor.dispose();
    const out: Record<string, TensorOut> = {};
    for (const name of outputNames) {
      const t = results[name];
      const data =
        t.type === 'float16' ? decodeFloat16(t.data as Uint16Array) : new Float32Array(t.data as Float32Array);
      out[name] = { data, dims: t.dims };
      t.dispose();
    }
    return out;
  }

  private async createSession(entry: ModelEntry): Promise<LoadedModel> {
    const file = path.join(this.modelsDir, entry.file);
    if (this.verify) await verifyModelFile(this.modelsDir, entry);
    else if (!verifyPresence(this.modelsDir, entry)) await verifyModelFile(this.modelsDir, entry);

    const baseOptions: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: this.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      enableCpuMemArena: this.cpuMemArena === 'auto' ? entry.memArena : this.cpuMemArena === 'on',
      logSeverityLevel: 3,
    };
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(file, {
        ...baseOptions,
        executionProviders: [...this.providers],
      });
    } catch (err) {
      if (this.providers.length === 1 && this.providers[0] === 'cpu') throw err;
      // A GPU provider that is not installed (onnxruntime-node's CUDA binaries are an opt-in download)
      // should not take the bot down: say so once and run on the CPU.
      log().warn(
        { model: entry.id, providers: this.providers, err: (err as Error).message },
        'execution provider unavailable, falling back to cpu',
      );
      session = await ort.InferenceSession.create(file, { ...baseOptions, executionProviders: ['cpu'] });
    }
    const inputName = entry.input.name ?? session.inputNames[0];
    const outputName = entry.output.name ?? session.outputNames[0];
    if (!session.inputNames.includes(inputName)) {
      throw new Error(`Model ${entry.file} has no input "${inputName}" (it has ${session.inputNames.join(', ')})`);
    }
    log().debug({ model: entry.id, file: entry.file }, 'model loaded');
    return { entry, session, inputName, outputName };
  }
}

function verifyPresence(modelsDir: string, entry: ModelEntry): boolean {
  try {
    const stat = statSync(path.join(modelsDir, entry.file));
    return stat.isFile() && (entry.bytes === undefined || stat.size === entry.bytes);
  } catch {
    return false;
  }
}
