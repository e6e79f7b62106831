/**
 * A small typed wrapper around spawning ffmpeg and ffprobe (fluent-ffmpeg is archived, and we only
 * need "start it, feed or read its pipes, know how it ended").
 *
 * - stderr is always drained (a full stderr pipe would stall ffmpeg) and its last ~4 KB are kept for
 *   `FfmpegError`, so a failure says what ffmpeg said.
 * - An AbortSignal SIGKILLs the process at once and `done` rejects with CANCELLED; a binary that
 *   cannot be started is VIDEO_UNAVAILABLE (photos still work without ffmpeg).
 * - Every live process is tracked, and a `process.on('exit')` hook SIGKILLs any still running, so a
 *   worker process that exits (or is told to) never leaves an ffmpeg behind.
 * - Nothing here can become an uncaught exception or an unhandled rejection: EPIPE on stdin (ffmpeg
 *   often exits before reading all its input) is swallowed, and `done` has an internal catch.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { AnimefyError } from '../../errors.ts';

/** The binaries to run; `resolveFfmpegPaths` (ffmpeg-binaries.ts) picks them. */
export interface FfmpegPaths {
  ffmpeg: string;
  ffprobe: string;
}

/** How much of stderr an error keeps (the end is where ffmpeg says what went wrong). */
const STDERR_TAIL_BYTES = 4096;

export class FfmpegError extends Error {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last ~4 KB of the process's stderr. */
  readonly stderr: string;
  readonly args: readonly string[];

  constructor(
    message: string,
    details: { exitCode: number | null; signal: NodeJS.Signals | null; stderr: string; args: readonly string[] },
  ) {
    super(message);
    this.name = 'FfmpegError';
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.stderr = details.stderr;
    this.args = details.args;
  }
}

export interface SpawnOptions {
  signal?: AbortSignal;
  /** Default 'ignore' (ffmpeg then reads /dev/null, never the terminal). */
  stdin?: 'pipe' | 'ignore';
  /** Default 'pipe': read it, or ffmpeg stalls once the pipe is full. */
  stdout?: 'pipe' | 'ignore';
}

export interface FfmpegProcess {
  readonly pid: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  /**
   * Resolves on exit code 0. Rejects with AnimefyError('CANCELLED') after the signal aborted (the
   * process is SIGKILLed at once), AnimefyError('VIDEO_UNAVAILABLE') when the binary cannot be
   * started (ENOENT/EACCES), else FfmpegError.
   */
  readonly done: Promise<void>;
  /** SIGKILL, idempotent; done then rejects (CANCELLED if it was aborted, else FfmpegError). */
  kill(): void;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}

/** Number of spawned processes still running (tests use it). */
export function liveFfmpegProcesses(): number {
  return live.size;
}

function noop(): void {}

/** Keeps the last `limit` bytes of a stream of chunks. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.chunks.length > 1 && this.size - this.chunks[0].length >= this.limit) {
      this.size -= this.chunks.shift()!.length;
    }
  }

  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString('utf8');
  }
}

/** The last non-empty line of ffmpeg's stderr: usually the reason it failed. */
function lastLine(stderr: string): string {
  const lines = stderr.split(/\r?\n/).filter((l) => l.trim() !== '');
  return lines.length ? lines[lines.length - 1].trim() : '';
}

/**
 * Spawns `binary args…` (args used as given; callers add -hide_banner / -v error themselves).
 */
export function spawnFfmpeg(binary: string, args: readonly string[], options: SpawnOptions = {}): FfmpegProcess {
  return start(binary, args, options).proc;
}

function start(
  binary: string,
  args: readonly string[],
  options: SpawnOptions,
): { proc: FfmpegProcess; stderr: () => string } {
  installExitHook();
  const { signal } = options;
  const name = path.basename(binary);
  const child = spawn(binary, args, {
    stdio: [options.stdin ?? 'ignore', options.stdout ?? 'pipe', 'pipe'],
    windowsHide: true,
  });
  if (child.pid !== undefined) live.add(child);

  const stderrTail = new TailBuffer(STDERR_TAIL_BYTES);
  child.stdin?.on('error', noop);
  child.stdout?.on('error', noop);
  child.stderr?.on('error', noop);
  child.stderr?.on('data', (chunk: Buffer) => stderrTail.push(chunk));

  let killed = false;
  let settled = false;
  const kill = (): void => {
    if (killed) return;
    killed = true;
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };
  const onAbort = (): void => kill();

  const done = new Promise<void>((resolve, reject) => {
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let stderrEnded = child.stderr === null;
    let graceTimer: NodeJS.Timeout | undefined;

    const settle = (err?: Error): void => {
      if (settled) return;
      settled = true;
      live.delete(child);
      signal?.removeEventListener('abort', onAbort);
      if (graceTimer) clearTimeout(graceTimer);
      if (signal?.aborted) reject(new AnimefyError('CANCELLED', {}, err ? { cause: err } : undefined));
      else if (err) reject(err);
      else resolve();
    };

    const finish = (): void => {
      if (!exit) return;
      const { code, signal: sig } = exit;
      const stderr = stderrTail.text();
      if (code === 0 && !sig) return settle();
      const why = sig ? `was killed (${sig})` : `exited with code ${code}`;
      const last = lastLine(stderr);
      settle(new FfmpegError(`${name} ${why}${last ? `: ${last}` : ''}`, { exitCode: code, signal: sig, stderr, args }));
    };

    child.on('error', (err: NodeJS.ErrnoException) => {
      if (child.pid === undefined || err.code === 'ENOENT' || err.code === 'EACCES') {
        // Never started: the binary is missing or not executable.
        settle(new AnimefyError('VIDEO_UNAVAILABLE', {}, { cause: err }));
      } else if (!exit) {
        // A failed kill or similar: the exit event still follows.
        stderrTail.push(Buffer.from(`\n${err.message}\n`));
      }
    });
    child.stderr?.on('close', () => {
      stderrEnded = true;
      finish();
    });
    child.on('exit', (code, sig) => {
      exit = { code, signal: sig };
      live.delete(child);
      if (stderrEnded) finish();
      // stderr normally closes right after exit; do not wait forever if a grandchild holds it open.
      else graceTimer = setTimeout(finish, 1000);
    });
  });
  done.catch(noop);

  if (signal) {
    if (signal.aborted) kill();
    else signal.addEventListener('abort', onAbort, { once: true });
  }

  const proc: FfmpegProcess = { pid: child.pid, stdin: child.stdin, stdout: child.stdout, done, kill };
  return { proc, stderr: () => stderrTail.text() };
}

/**
 * Runs to completion, collecting stdout; same errors as `done`. `timeoutMs` kills it and rejects with
 * an FfmpegError whose message says it timed out. `input` is written to its stdin.
 */
export async function runFfmpeg(
  binary: string,
  args: readonly string[],
  options: { signal?: AbortSignal; timeoutMs?: number; input?: Uint8Array } = {},
): Promise<{ stdout: Buffer; stderr: string }> {
  const { proc, stderr } = start(binary, args, {
    signal: options.signal,
    stdin: options.input ? 'pipe' : 'ignore',
    stdout: 'pipe',
  });
  const chunks: Buffer[] = [];
  const stdoutEnded = new Promise<void>((resolve) => {
    if (!proc.stdout) return resolve();
    proc.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    proc.stdout.on('end', resolve);
    proc.stdout.on('close', resolve);
    proc.stdout.on('error', () => resolve());
  });
  if (options.input && proc.stdin) proc.stdin.end(options.input);

  let timedOut = false;
  const timer =
    options.timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut = true;
          proc.kill();
        }, options.timeoutMs)
      : undefined;
  try {
    await proc.done;
  } catch (err) {
    if (timedOut && err instanceof FfmpegError) {
      throw new FfmpegError(`${path.basename(binary)} timed out after ${options.timeoutMs} ms`, err);
    }
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
  }
  await stdoutEnded;
  return { stdout: Buffer.concat(chunks), stderr: stderr() };
}

const codecLists = new Map<string, Promise<ReadonlySet<string>>>();

/** The names ffmpeg lists under `-decoders` or `-encoders`; asked once per binary, empty when it cannot run. */
function codecNames(binary: string, kind: 'decoders' | 'encoders'): Promise<ReadonlySet<string>> {
  const key = `${kind}\0${binary}`;
  let list = codecLists.get(key);
  if (!list) {
    list = runFfmpeg(binary, ['-hide_banner', `-${kind}`], { timeoutMs: 10_000 }).then(
      ({ stdout }) => new Set(stdout.toString('utf8').split('\n').map((line) => line.trim().split(/\s+/)[1]).filter(Boolean)),
      () => new Set<string>(),
    );
    codecLists.set(key, list);
  }
  return list;
}

/** Whether this ffmpeg has a decoder (e.g. libvpx-vp9). */
export async function hasDecoder(binary: string, name: string): Promise<boolean> {
  return (await codecNames(binary, 'decoders')).has(name);
}

/** Whether this ffmpeg has an encoder (e.g. libvpx-vp9). */
export async function hasEncoder(binary: string, name: string): Promise<boolean> {
  return (await codecNames(binary, 'encoders')).has(name);
}

const optionLists = new Map<string, Promise<ReadonlySet<string>>>();

/** The option names ffmpeg lists under `-h long`; asked once per binary, empty when it cannot run. */
function optionNames(binary: string): Promise<ReadonlySet<string>> {
  let list = optionLists.get(binary);
  if (!list) {
    list = runFfmpeg(binary, ['-hide_banner', '-h', 'long'], { timeoutMs: 10_000 }).then(
      ({ stdout }) => new Set(stdout.toString('utf8').split('\n').flatMap((line) => /^(-[\w:]+)\s/.exec(line)?.[1] ?? [])),
      () => new Set<string>(),
    );
    optionLists.set(binary, list);
  }
  return list;
}

/**
 * Output options that hand on every decoded frame as it is, none duplicated or dropped (a GIF's own
 * timing; raw frames whose count must match). `-fps_mode` exists since ffmpeg 5.1; older builds,
 * such as the npm package's 2018 one, know only `-vsync`, which 5.1 still accepts as deprecated but
 * later releases may drop.
 */
export async function passthroughArgs(binary: string): Promise<string[]> {
  const names = await optionNames(binary);
  return [names.has('-vsync') && !names.has('-fps_mode') ? '-vsync' : '-fps_mode', 'passthrough'];
}
