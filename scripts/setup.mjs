#!/usr/bin/env node
// `npm run setup`: dependencies (only when the lockfile changed), model weights, then a check for
// ffmpeg. Plain Node with no dependencies, because it runs before `npm ci`.
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

function onPath(command) {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const exts = process.platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  return dirs.some((dir) => exts.some((ext) => fs.existsSync(path.join(dir, command + ext))));
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

// 3. ffmpeg (needed for GIF and video only, so a warning)
const missing = ['ffmpeg', 'ffprobe'].filter((c) => !onPath(c));
if (missing.length && !process.env.FFMPEG_PATH) {
  console.warn(
    `\nwarning: ${missing.join(' and ')} not found on PATH and FFMPEG_PATH is unset: GIF and video jobs will fail. ` +
      'Install ffmpeg (e.g. `apt install ffmpeg`) or set FFMPEG_PATH.',
  );
}
console.log('\nSetup done.');
