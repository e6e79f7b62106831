/**
 * `npm run models`: puts every model in the manifest into ANIMEFY_MODELS_DIR, verified by sha256.
 *
 * Sources, in order: the mirror directory (ANIMEFY_MODEL_MIRROR, else `../shared/models` beside the
 * repo when it exists), then each model's download URL / npm tarball. Prints one row per model and a
 * summary; exits 1 when a required model could not be obtained and no fallback covers it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { getConfig, REPO_ROOT } from '../config.ts';
import { ensureModels, type ModelReport } from '../models/ensure.ts';
import { removeTempFilesSync } from '../models/write.ts';

function shortPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && rel.length < p.length ? rel : p;
}

function pickMirror(configured: string | undefined): { dir?: string; note: string } {
  if (configured) {
    if (fs.existsSync(configured))
      return { dir: configured, note: `${shortPath(configured)} (ANIMEFY_MODEL_MIRROR)` };
    return { note: `none: ANIMEFY_MODEL_MIRROR=${configured} does not exist, so only downloads are tried` };
  }
  const beside = path.resolve(REPO_ROOT, '..', 'shared', 'models');
  if (fs.existsSync(beside))
    return {
      dir: beside,
      note: `${shortPath(beside)} (ANIMEFY_MODEL_MIRROR is unset; using the one beside the repo)`,
    };
  return { note: 'none (ANIMEFY_MODEL_MIRROR is unset): only downloads are tried' };
}

function table(reports: ModelReport[]): string {
  const rows = [
    ['model', 'status', 'source', 'MB'],
    ...reports.map((r) => [
      r.id,
      r.status,
      r.source ?? '-',
      r.bytes === undefined ? '-' : (r.bytes / 1e6).toFixed(2),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows
    .map((row) =>
      row.map((cell, i) => (i === 3 ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  '),
    )
    .join('\n');
}

async function main(): Promise<number> {
  const config = getConfig();
  const mirror = pickMirror(config.ANIMEFY_MODEL_MIRROR);
  console.log(`Models dir: ${shortPath(config.ANIMEFY_MODELS_DIR)}`);
  console.log(`Mirror:     ${mirror.note}`);

  const started = performance.now();
  const result = await ensureModels({
    modelsDir: config.ANIMEFY_MODELS_DIR,
    mirrorDir: mirror.dir,
    log: (line) => console.log(line),
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(2);

  console.log(`\n${table(result.models)}\n`);
  const label = { ok: '', info: 'note', warning: 'warning', error: 'ERROR' } as const;
  for (const r of result.models) {
    if (r.level !== 'ok') console.log(`${label[r.level]}: ${r.id}: ${r.message}`);
  }

  const count = (pred: (r: ModelReport) => boolean) => result.models.filter(pred).length;
  const ready = count((r) => r.source !== null);
  const byStatus = (s: ModelReport['status']) => count((r) => r.status === s);
  const errors = count((r) => r.level === 'error');
  const mb = result.models.reduce((sum, r) => sum + (r.bytes ?? 0), 0) / 1e6;
  console.log(
    `${result.models.length} models: ${ready} ready (${byStatus('present')} present, ${byStatus('copied')} copied, ` +
      `${byStatus('downloaded')} downloaded, ${mb.toFixed(1)} MB), ${result.models.length - ready} not available ` +
      `(${count((r) => r.level === 'warning')} warnings, ${errors} errors) in ${seconds} s`,
  );
  if (!result.ok) {
    console.error(
      `\nnpm run models failed: ${errors} required model(s) could not be obtained (see ERROR above). ` +
        'Set ANIMEFY_MODEL_MIRROR to a directory holding the weights, or check network access to the URLs.',
    );
    return 1;
  }
  return 0;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    removeTempFilesSync();
    process.exit(130);
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    removeTempFilesSync();
    console.error(`npm run models failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
