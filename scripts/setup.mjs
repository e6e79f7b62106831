#!/usr/bin/env node
// `npm run setup`: dependencies (only when the lockfile changed), model weights, then which ffmpeg
// is used. Plain Node with no dependencies, because it runs before `npm ci`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(args) {
  console.log(`\n> npm ${args.join(' ')}`);
  const result = spawnSync(npm, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) {
    console.error(
      `\nsetup failed: \`npm ${args.join(' ')}\` ${result.error ? `could not start (${result.error.message})` : `exited with ${result.status ?? result.signal}`}`,
    );
    process.exit(result.status || 1);
  }
}

function mtime(file) {
  try {
    return fs.statSync(path.join(root, file)).mtimeMs;
  } catch {
    return undefined;
  }
}

// 1. Dependencies
const installed = mtime('node_modules/.package-lock.json');
if (installed === undefined || installed < (mtime('package-lock.json') ?? 0)) run(['ci']);
else
  console.log(
    'Dependencies are up to date (node_modules/.package-lock.json is newer than package-lock.json).',
  );

// 2. Model weights
run(['run', 'models']);

// 3. ffmpeg and ffprobe: which ones GIF and video jobs use (the system's, else the npm packages'),
// with the pipeline's own choice (src/app/ffmpeg-check.ts; dependencies are installed by now).
// Needed for GIF and video only, so a missing one is a warning there, not a failure.
const check = spawnSync(process.execPath, ['--import', 'tsx', path.join('src', 'app', 'ffmpeg-check.ts')], { cwd: root, stdio: 'inherit' });
if (check.status !== 0) {
  console.error(`\nsetup failed: the ffmpeg check ${check.error ? `could not start (${check.error.message})` : `exited with ${check.status ?? check.signal}`}`);
  process.exit(check.status || 1);
}
console.log('\nSetup done.');
