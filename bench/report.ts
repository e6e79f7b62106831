/** Shared helpers for the benchmarks: a plain-text table, the JSON summary, and the bot benchmarks' inputs and probes. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import sharp from 'sharp';

export interface BenchSection {
  name: string;
  results: Record<string, unknown>[];
  peakRssMb: number;
  [key: string]: unknown;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Prints rows as an aligned table on stdout. */
export function printTable(title: string, rows: Record<string, unknown>[]): void {
  if (rows.length === 0) return;
  const headers = Object.keys(rows[0]);
  const cells = rows.map((r) => headers.map((h) => String(r[h] ?? '')));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  console.log(`\n${title}`);
  console.log(line(headers));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const c of cells) console.log(line(c));
}

/** Rounds to one decimal. */
export function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Photos for the bot benchmarks: fixtures at 512 px, as a user would send them. */
export const BOT_BENCH_FIXTURES = ['portrait_frontal_1.jpg', 'portrait_glasses_1.jpg', 'portrait_3quarter_1.jpg', 'group_3faces.jpg', 'street_1.jpg'];

export function botBenchInputs(fixturesDir: string): Promise<Buffer[]> {
  return Promise.all(
    BOT_BENCH_FIXTURES.map(async (name) => sharp(await fs.readFile(path.join(fixturesDir, name))).resize(512, 512, { fit: 'inside' }).jpeg({ quality: 90 }).toBuffer()),
  );
}

/** Tracks the process's largest event-loop delay (while enabled) and peak RSS. */
export function processMonitor(): { loop: ReturnType<typeof monitorEventLoopDelay>; peakRssMb: () => number; stop: () => void } {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 200);
  return { loop, peakRssMb: () => Math.round(peak / 2 ** 20), stop: () => clearInterval(timer) };
}
