/**
 * The ffmpeg spawn wrapper: results, errors, cancellation, timeouts, and no process left behind.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnimefyError } from '#src/errors.ts';
import { FfmpegError, liveFfmpegProcesses, passthroughArgs, runFfmpeg, spawnFfmpeg } from '#src/pipeline/media/ffmpeg.ts';
import {
  chooseFfmpegBinaries,
  machineFinder,
  NPM_PACKAGES,
  parseVersionLine,
  resolveFfmpegPaths,
  versionLine,
  type BinaryFinder,
  type FfmpegTool,
} from '#src/pipeline/media/ffmpeg-binaries.ts';
import { makeMedia, paths, scratchDir } from '../../helpers/make-media.ts';

const execFileAsync = promisify(execFile);
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** An ffmpeg that runs until stopped (real-time test pattern into the null muxer). */
const FOREVER = ['-hide_banner', '-nostdin', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=32x24:rate=10', '-f', 'null', '-'];

/** Whether a process runs (a zombie, killed but not yet reaped by its new parent, does not). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc (macOS): kill(0) is all we know
  }
}

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

let dir: string;
beforeAll(async () => {
  dir = await scratchDir();
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('resolveFfmpegPaths', () => {
  /** A machine where the named commands run, and the npm packages' binaries are (or are not) installed. */
  function machine(running: string[], npm: Partial<Record<FfmpegTool, string>> = {}): BinaryFinder & { asked: string[] } {
    const asked: string[] = [];
    return {
      asked,
      runs: (command) => {
        asked.push(command);
        return running.includes(command);
      },
      npmBinary: (tool) => npm[tool],
    };
  }
  const NPM = { ffmpeg: '/repo/node_modules/@ffmpeg-installer/linux-x64/ffmpeg', ffprobe: '/repo/node_modules/@ffprobe-installer/linux-x64/ffprobe' };

  it('prefers the system binaries on PATH when they run, over the npm ones', () => {
    const finder = machine(['ffmpeg', 'ffprobe', NPM.ffmpeg, NPM.ffprobe], NPM);
    expect(resolveFfmpegPaths({}, finder)).toEqual({ ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' });
    expect(chooseFfmpegBinaries({}, finder).ffmpeg.source).toBe('system');
  });

  it('uses the npm packages binaries when none on PATH runs, each tool on its own', () => {
    expect(resolveFfmpegPaths({}, machine([NPM.ffmpeg, NPM.ffprobe], NPM))).toEqual(NPM);
    // A system ffmpeg without ffprobe: the system ffmpeg, the npm ffprobe.
    const choice = chooseFfmpegBinaries({}, machine(['ffmpeg', NPM.ffmpeg, NPM.ffprobe], NPM));
    expect(choice).toEqual({ ffmpeg: { command: 'ffmpeg', source: 'system' }, ffprobe: { command: NPM.ffprobe, source: 'npm' } });
  });

  it('falls back to the bare names (VIDEO_UNAVAILABLE when run) when nothing runs', () => {
    // An npm binary that is installed but does not run (another CPU, a noexec mount) is not used either.
    const choice = chooseFfmpegBinaries({}, machine([], NPM));
    expect(choice).toEqual({ ffmpeg: { command: 'ffmpeg', source: 'missing' }, ffprobe: { command: 'ffprobe', source: 'missing' } });
  });

  it('takes FFMPEG_PATH as given and finds ffprobe next to it, else falls back as without it', async () => {
    const bin = path.join(dir, 'bin');
    await fs.mkdir(bin, { recursive: true });
    await fs.writeFile(path.join(bin, 'ffprobe'), '');
    const finder = machine(['ffprobe']);
    expect(resolveFfmpegPaths({ FFMPEG_PATH: path.join(bin, 'ffmpeg') }, finder)).toEqual({
      ffmpeg: path.join(bin, 'ffmpeg'),
      ffprobe: path.join(bin, 'ffprobe'),
    });
    expect(finder.asked).toEqual([]); // a setting is used as it is, not tried
    expect(resolveFfmpegPaths({ FFMPEG_PATH: path.join(dir, 'nowhere', 'ffmpeg') }, finder).ffprobe).toBe('ffprobe');
    expect(resolveFfmpegPaths({ FFMPEG_PATH: 'ffmpeg6' }, machine([NPM.ffprobe], NPM)).ffprobe).toBe(NPM.ffprobe);
  });

  it('prefers FFPROBE_PATH', () => {
    expect(resolveFfmpegPaths({ FFMPEG_PATH: '/usr/bin/ffmpeg', FFPROBE_PATH: '/opt/ffprobe' }, machine([]))).toEqual({
      ffmpeg: '/usr/bin/ffmpeg',
      ffprobe: '/opt/ffprobe',
    });
  });

  it.runIf(process.platform === 'linux' && process.arch === 'x64')('finds the npm packages binaries on this machine, and they run', () => {
    for (const tool of ['ffmpeg', 'ffprobe'] as const) {
      const file = machineFinder.npmBinary(tool);
      expect(file, `${NPM_PACKAGES[tool]} is an optional dependency: npm ci installs it`).toBeDefined();
      expect(machineFinder.runs(file!, tool)).toBe(true);
      expect(parseVersionLine(versionLine(file!)!)?.version).toMatch(/\S/);
    }
  });

  it('reads the version and year from a -version line', () => {
    expect(parseVersionLine('ffmpeg version 5.1.8-0+deb12u1 Copyright (c) 2000-2025 the FFmpeg developers')).toEqual({
      version: '5.1.8-0+deb12u1',
      year: 2025,
    });
    expect(
      parseVersionLine('ffmpeg version N-47683-g0e8eb07980-static https://johnvansickle.com/ffmpeg/  Copyright (c) 2000-2018 the FFmpeg developers'),
    ).toEqual({ version: 'N-47683-g0e8eb07980-static', year: 2018 });
    expect(parseVersionLine('not a version line')).toBeUndefined();
  });
});

describe('passthroughArgs', () => {
  it('gives options this ffmpeg accepts that keep every frame of a GIF', async () => {
    const gif = await makeMedia(dir, 'passthrough.gif', ['-f', 'lavfi', '-i', 'testsrc=size=16x16:rate=10', '-frames:v', '4']);
    const args = await passthroughArgs(paths.ffmpeg);
    expect(['-fps_mode', '-vsync']).toContain(args[0]);
    const { stdout } = await runFfmpeg(paths.ffmpeg, ['-hide_banner', '-v', 'error', '-i', gif, ...args, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
    expect(stdout.length).toBe(4 * 16 * 16 * 3);
  });
});

describe('runFfmpeg', () => {
  it('collects stdout', async () => {
    const { stdout } = await runFfmpeg(paths.ffmpeg, [
      '-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=8x8:rate=1',
      '-frames:v', '2', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-',
    ]);
    expect(stdout.length).toBe(2 * 8 * 8 * 3);
  });

  it('feeds input to stdin', async () => {
    const input = new Uint8Array(4 * 4 * 2).map((_, i) => i * 7);
    const { stdout } = await runFfmpeg(
      paths.ffmpeg,
      ['-hide_banner', '-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'gray', '-s', '4x4', '-i', 'pipe:0', '-f', 'rawvideo', '-pix_fmt', 'gray', '-'],
      { input },
    );
    expect(Buffer.compare(stdout, Buffer.from(input))).toBe(0);
  });

  it('rejects with FfmpegError carrying stderr, exit code and args', async () => {
    const args = ['-hide_banner', '-v', 'error', '-i', path.join(dir, 'missing.mp4'), '-f', 'null', '-'];
    const err = await rejection(runFfmpeg(paths.ffmpeg, args));
    expect(err).toBeInstanceOf(FfmpegError);
    const e = err as FfmpegError;
    expect(e.exitCode).not.toBe(0);
    expect(e.exitCode).not.toBeNull();
    expect(e.signal).toBeNull();
    expect(e.stderr).toMatch(/No such file or directory/);
    expect(e.message).toMatch(/No such file or directory/);
    expect(e.args).toEqual(args);
  });

  it('survives EPIPE when ffmpeg exits without reading its input', async () => {
    const input = new Uint8Array(32 * 1024 * 1024);
    const err = await rejection(
      runFfmpeg(paths.ffmpeg, ['-hide_banner', '-v', 'error', '-f', 'no_such_format', '-i', 'pipe:0', '-f', 'null', '-'], { input }),
    );
    expect(err).toBeInstanceOf(FfmpegError);
    expect(liveFfmpegProcesses()).toBe(0);
  });

  it('kills a run past its time limit', async () => {
    const started = Date.now();
    const err = await rejection(runFfmpeg(paths.ffmpeg, FOREVER, { timeoutMs: 300 }));
    expect(err).toBeInstanceOf(FfmpegError);
    expect((err as FfmpegError).message).toMatch(/timed out/);
    expect((err as FfmpegError).signal).toBe('SIGKILL');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(liveFfmpegProcesses()).toBe(0);
  });
});

describe('spawnFfmpeg', () => {
  it('resolves done on exit code 0 and tracks the process while it runs', async () => {
    const proc = spawnFfmpeg(paths.ffmpeg, ['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=8x8:rate=1', '-frames:v', '1', '-f', 'null', '-'], {
      stdout: 'ignore',
    });
    expect(proc.pid).toBeGreaterThan(0);
    expect(proc.stdout).toBeNull();
    expect(proc.stdin).toBeNull();
    expect(liveFfmpegProcesses()).toBe(1);
    await proc.done;
    expect(liveFfmpegProcesses()).toBe(0);
  });

  it('abort SIGKILLs the process and rejects with CANCELLED', async () => {
    const controller = new AbortController();
    const proc = spawnFfmpeg(paths.ffmpeg, FOREVER, { signal: controller.signal });
    const pid = proc.pid!;
    expect(liveFfmpegProcesses()).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(isAlive(pid)).toBe(true);
    controller.abort();
    const err = await rejection(proc.done);
    expect(err).toBeInstanceOf(AnimefyError);
    expect((err as AnimefyError).code).toBe('CANCELLED');
    expect(liveFfmpegProcesses()).toBe(0);
    expect(isAlive(pid)).toBe(false);
  });

  it('an already aborted signal cancels at once', async () => {
    const proc = spawnFfmpeg(paths.ffmpeg, FOREVER, { signal: AbortSignal.abort() });
    const err = await rejection(proc.done);
    expect((err as AnimefyError).code).toBe('CANCELLED');
    expect(liveFfmpegProcesses()).toBe(0);
  });

  it('kill() is idempotent and rejects done with FfmpegError', async () => {
    const proc = spawnFfmpeg(paths.ffmpeg, FOREVER);
    proc.kill();
    proc.kill();
    const err = await rejection(proc.done);
    expect(err).toBeInstanceOf(FfmpegError);
    expect((err as FfmpegError).signal).toBe('SIGKILL');
    proc.kill();
    expect(liveFfmpegProcesses()).toBe(0);
  });

  it('a missing binary rejects with VIDEO_UNAVAILABLE', async () => {
    const proc = spawnFfmpeg(path.join(dir, 'no-such-ffmpeg'), ['-version'], { stdin: 'pipe' });
    proc.stdin?.end(Buffer.alloc(1024));
    const err = await rejection(proc.done);
    expect(err).toBeInstanceOf(AnimefyError);
    expect((err as AnimefyError).code).toBe('VIDEO_UNAVAILABLE');
    expect(proc.pid).toBeUndefined();
    expect(liveFfmpegProcesses()).toBe(0);
    await expect(runFfmpeg(path.join(dir, 'no-such-ffmpeg'), [])).rejects.toMatchObject({ code: 'VIDEO_UNAVAILABLE' });
  });

  it('an unawaited failure is not an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      spawnFfmpeg(paths.ffmpeg, ['-v', 'error', '-i', path.join(dir, 'missing.gif')]);
      spawnFfmpeg(path.join(dir, 'no-such-ffmpeg'), []);
      await waitFor(() => liveFfmpegProcesses() === 0);
      await new Promise((r) => setTimeout(r, 100));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a process that exits takes its ffmpeg children with it', async () => {
    // A separate Node process spawns a long ffmpeg, prints its pid and exits.
    const script = path.join(dir, 'exit-hook.ts');
    const modulePath = path.join(REPO_ROOT, 'src/pipeline/media/ffmpeg.ts');
    await fs.writeFile(
      script,
      `import { spawnFfmpeg } from ${JSON.stringify(modulePath)};\n` +
        `const proc = spawnFfmpeg(${JSON.stringify(paths.ffmpeg)}, ${JSON.stringify(FOREVER)});\n` +
        `setTimeout(() => { console.log(proc.pid); process.exit(0); }, 300);\n`,
    );
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT });
    const pid = Number(stdout.trim());
    expect(pid).toBeGreaterThan(0);
    await waitFor(() => !isAlive(pid), 2000);
  });
});
