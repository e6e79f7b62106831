#!/usr/bin/env node
// `npm run demo [-- photo.jpg ...]`: installs what is missing (dependencies, models), then turns a
// sample photos and a GIF (or the files you name) into anime with the CLI, writing to demo-out/.
// Plain Node with no dependencies, because it runs before `npm ci`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status || 1);
}

run(process.execPath, [path.join(root, 'scripts', 'setup.mjs')]);

let inputs = process.argv.slice(2);
if (inputs.length === 0) {
  const fixtures = path.resolve(root, process.env.ANIMEFY_FIXTURES_DIR ?? path.join('..', 'shared', 'fixtures'));
  inputs = ['portrait_frontal_2.jpg', 'group_3faces.jpg', 'face_clip.gif'].map((f) => path.join(fixtures, f)).filter((f) => fs.existsSync(f));
  if (inputs.length === 0) {
    console.error(`No sample photos in ${fixtures}. Name your own: npm run demo -- photo.jpg`);
    process.exit(2);
  }
}
console.log(`\n> animefy ${inputs.map((f) => path.relative(process.cwd(), f)).join(' ')} --style hayao --out demo-out/\n`);
run(process.execPath, [path.join(root, 'bin', 'animefy.mjs'), ...inputs, '--style', 'hayao', '--out', path.join(root, 'demo-out')]);
console.log('\nDone: the results are in demo-out/. Try `npx animefy --list-styles` for more styles.');
