/**
 * Which ffmpeg and ffprobe binaries to run, in this order:
 *
 * 1. FFMPEG_PATH / FFPROBE_PATH (with only FFMPEG_PATH set, an `ffprobe` beside it when there is one);
 * 2. `ffmpeg` / `ffprobe` on PATH when they run: the system's build stays the first choice (Debian's
 *    5.1 is the tested one);
 * 3. the binaries of the npm packages @ffmpeg-installer/ffmpeg and @ffprobe-installer/ffprobe
 *    (optional dependencies whose platform packages carry the binary inside the tarball, so a machine
 *    that reaches only the npm registry gets them with `npm ci`, no download at install);
 * 4. else the bare names, so that running one fails as VIDEO_UNAVAILABLE (photos still work).
 *
 * "Runs" means `<binary> -version` exits 0 and names the tool: a name on PATH can also be a broken
 * link, a file without the execute bit or a stub. Each binary is asked once per process.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FfmpegPaths } from './ffmpeg.ts';

export type FfmpegTool = 'ffmpeg' | 'ffprobe';

/** Where a chosen binary comes from (what `npm run setup` reports). */
export type BinarySource = 'setting' | 'beside-setting' | 'system' | 'npm' | 'missing';

export interface BinaryChoice {
  /** What is spawned: a path, or a bare name looked up on PATH. */
  command: string;
  source: BinarySource;
}

/** How the choice looks at the machine; tests pass their own. */
export interface BinaryFinder {
  /** Whether `command` (a bare name on PATH, or a path) runs as `tool`. */
  runs(command: string, tool: FfmpegTool): boolean;
  /** The npm package's binary for this platform, or undefined when it is not installed. */
  npmBinary(tool: FfmpegTool): string | undefined;
}

/** The npm packages that ship a binary per platform (their `path` export names it). */
export const NPM_PACKAGES: Readonly<Record<FfmpegTool, string>> = {
  ffmpeg: '@ffmpeg-installer/ffmpeg',
  ffprobe: '@ffprobe-installer/ffprobe',
};

type BinarySettings = { FFMPEG_PATH?: string; FFPROBE_PATH?: string };

/** The ffmpeg and ffprobe to spawn (see the module comment for the order). */
export function resolveFfmpegPaths(config: BinarySettings, finder: BinaryFinder = machineFinder): FfmpegPaths {
  const choice = chooseFfmpegBinaries(config, finder);
  return { ffmpeg: choice.ffmpeg.command, ffprobe: choice.ffprobe.command };
}

/** Both choices with where each comes from. */
export function chooseFfmpegBinaries(
  config: BinarySettings,
  finder: BinaryFinder = machineFinder,
): Record<FfmpegTool, BinaryChoice> {
  const ffmpeg: BinaryChoice = config.FFMPEG_PATH ? { command: config.FFMPEG_PATH, source: 'setting' } : fallback('ffmpeg', finder);
  let ffprobe: BinaryChoice;
  if (config.FFPROBE_PATH) ffprobe = { command: config.FFPROBE_PATH, source: 'setting' };
  else {
    const beside = besideFfmpeg(config.FFMPEG_PATH);
    ffprobe = beside ? { command: beside, source: 'beside-setting' } : fallback('ffprobe', finder);
  }
  return { ffmpeg, ffprobe };
}

/** The system's binary when it runs, else the npm package's when that runs, else the bare name. */
function fallback(tool: FfmpegTool, finder: BinaryFinder): BinaryChoice {
  if (finder.runs(tool, tool)) return { command: tool, source: 'system' };
  const bundled = finder.npmBinary(tool);
  if (bundled && finder.runs(bundled, tool)) return { command: bundled, source: 'npm' };
  return { command: tool, source: 'missing' };
}

/** An `ffprobe` in FFMPEG_PATH's directory, when FFMPEG_PATH is a path (not a bare name) and it exists. */
function besideFfmpeg(ffmpegPath: string | undefined): string | undefined {
  if (!ffmpegPath || !/[\\/]/.test(ffmpegPath)) return undefined;
  const ext = path.extname(ffmpegPath).toLowerCase() === '.exe' ? '.exe' : '';
  const sibling = path.join(path.dirname(ffmpegPath), `ffprobe${ext}`);
  return fs.existsSync(sibling) ? sibling : undefined;
}

const VERSION_TIMEOUT_MS = 10_000;
const runsCache = new Map<string, boolean>();

/** The real machine: runs `-version`, and asks the npm packages where their binary is. */
export const machineFinder: BinaryFinder = {
  runs(command, tool) {
    const key = `${tool}\0${command}`;
    let ok = runsCache.get(key);
    if (ok === undefined) {
      ok = versionLine(command)?.startsWith(`${tool} version`) ?? false;
      runsCache.set(key, ok);
    }
    return ok;
  },
  npmBinary(tool) {
    let file: string;
    try {
      // The packages throw (a string, or an Error) on a platform they have no binary for.
      file = (createRequire(import.meta.url)(NPM_PACKAGES[tool]) as { path: string }).path;
    } catch {
      return undefined;
    }
    return ensureExecutable(file) ? file : undefined;
  },
};

/**
 * The platform packages set the execute bit in a postinstall script (`chmod u+x`), and the ffprobe
 * in its tarball has none: when npm skipped that script (`--ignore-scripts`, or install scripts not
 * allowed), set it here. False when the file is missing or the bit cannot be set (a read-only tree).
 */
function ensureExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    // not executable (yet), or missing
  }
  try {
    const { mode } = fs.statSync(file);
    fs.chmodSync(file, (mode & 0o7777) | 0o111);
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first line `<command> -version` prints, or undefined when it does not run or fails. */
export function versionLine(command: string): string | undefined {
  const result = spawnSync(command, ['-version'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: VERSION_TIMEOUT_MS,
    windowsHide: true,
  });
  if (result.status !== 0 || typeof result.stdout !== 'string') return undefined;
  return result.stdout.split('\n', 1)[0].trim();
}

/**
 * The version and copyright year from a `-version` line, e.g. "ffmpeg version 5.1.8-0+deb12u1
 * Copyright (c) 2000-2025 …" → { version: '5.1.8-0+deb12u1', year: 2025 }. Static builds name a git
 * revision (N-47683-…) instead of a release: the year then tells how old the build is.
 */
export function parseVersionLine(line: string): { version: string; year?: number } | undefined {
  const m = /^\S+ version (\S+)(?:.*?Copyright \(c\) \d{4}-(\d{4}))?/.exec(line);
  if (!m) return undefined;
  return { version: m[1], ...(m[2] ? { year: Number(m[2]) } : {}) };
}
