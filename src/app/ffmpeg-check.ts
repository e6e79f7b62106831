/**
 * `npm run setup`'s last step: says which ffmpeg and ffprobe GIF and video jobs will run, where each
 * comes from and its version, with the same choice the pipeline makes (ffmpeg-binaries.ts). Exits 0
 * either way: without them photos still work, so a missing one is a warning.
 */
import fs from 'node:fs';
import path from 'node:path';
import { getConfig, REPO_ROOT } from '../config.ts';
import {
  chooseFfmpegBinaries,
  NPM_PACKAGES,
  parseVersionLine,
  versionLine,
  type BinaryChoice,
  type FfmpegTool,
} from '../pipeline/media/ffmpeg-binaries.ts';

/** A bare name's file on PATH, for the report (the pipeline spawns the bare name itself). */
function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  return undefined;
}

function shown(command: string): string {
  const file = /[\\/]/.test(command) ? command : (onPath(command) ?? command);
  const rel = path.relative(REPO_ROOT, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

const SOURCES: Record<BinaryChoice['source'], (tool: FfmpegTool) => string> = {
  setting: (tool) => `set by ${tool === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH'}`,
  'beside-setting': () => 'next to FFMPEG_PATH',
  system: () => 'the system one, on PATH',
  npm: (tool) => `from the npm package ${NPM_PACKAGES[tool]} (none runs on PATH)`,
  missing: () => 'not found',
};

/** One line per tool: path, where it comes from, version; undefined version when it does not run. */
function describe(tool: FfmpegTool, choice: BinaryChoice): { line: string; runs: boolean } {
  const where = SOURCES[choice.source](tool);
  if (choice.source === 'missing') return { line: `${tool}: ${where}`, runs: false };
  const parsed = parseVersionLine(versionLine(choice.command) ?? '');
  const version = parsed ? `version ${parsed.version}${parsed.year ? ` (${parsed.year})` : ''}` : 'does not run';
  return { line: `${tool}: ${shown(choice.command)} — ${where}, ${version}`, runs: parsed !== undefined };
}

const choice = chooseFfmpegBinaries(getConfig());
const tools = (['ffmpeg', 'ffprobe'] as const).map((tool) => ({ tool, ...describe(tool, choice[tool]) }));
console.log(`\nGIF and video tools:\n${tools.map((t) => `  ${t.line}`).join('\n')}`);
const broken = tools.filter((t) => !t.runs).map((t) => t.tool);
if (broken.length) {
  console.warn(
    `\nwarning: ${broken.join(' and ')} ${broken.length > 1 ? 'do' : 'does'} not run: GIF and video jobs will fail (photos work). Install ffmpeg ` +
      '(e.g. `apt install ffmpeg`), set FFMPEG_PATH / FFPROBE_PATH, or let `npm ci` install the optional ' +
      `dependencies ${Object.values(NPM_PACKAGES).join(' and ')}.`,
  );
}
