/**
 * The layer rules of src/ (layers.json): every relative import of every file under src/ (type-only
 * imports and re-exports included) must go to a layer its own layer may import, and the import graph
 * has no cycles. `npm run layers` prints what breaks the rules; test/layers.test.ts runs the same check.
 */
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..');

interface Rules {
  layers: Record<string, string[]>;
  mayImport: Record<string, string[]>;
}

export function readRules(root = ROOT): Rules {
  return JSON.parse(fs.readFileSync(path.join(root, 'layers.json'), 'utf8')) as Rules;
}

/** Every .ts file under src/, repo-relative with forward slashes. */
export function sourceFiles(root = ROOT): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.ts')) out.push(rel);
    }
  };
  walk('src');
  return out.sort();
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/g;

/** The repo-relative files a source file imports (relative specifiers only). */
export function importsOf(file: string, root = ROOT): string[] {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  const found = new Set<string>();
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    found.add(path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
  }
  return [...found];
}

export function layerOf(file: string, rules: Rules): string | undefined {
  for (const [layer, prefixes] of Object.entries(rules.layers)) {
    if (prefixes.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p))) return layer;
  }
  return undefined;
}

export interface LayerReport {
  /** "a.ts (layer) imports b.ts (layer)" for each import its layer may not make. */
  upward: string[];
  /** Files in no layer. */
  unassigned: string[];
  /** Each cycle as a list of files, the first repeated at the end. */
  cycles: string[][];
}

export function checkLayers(root = ROOT): LayerReport {
  const rules = readRules(root);
  const files = sourceFiles(root);
  const graph = new Map(files.map((f) => [f, importsOf(f, root).filter((t) => t.startsWith('src/'))]));
  const upward: string[] = [];
  const unassigned: string[] = [];
  for (const [file, targets] of graph) {
    const from = layerOf(file, rules);
    if (!from) {
      unassigned.push(file);
      continue;
    }
    for (const target of targets) {
      const to = layerOf(target, rules);
      if (to && !rules.mayImport[from]?.includes(to)) upward.push(`${file} (${from}) imports ${target} (${to})`);
    }
  }
  return { upward, unassigned, cycles: findCycles(graph) };
}

/** Elementary cycles found by depth-first search (each reported once, from its first file). */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 'open') {
        const cycle = [...stack.slice(stack.indexOf(next)), next];
        const key = [...cycle.slice(0, -1)].sort().join('|');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(cycle);
        }
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const report = checkLayers();
  for (const line of report.upward) console.log(`upward import: ${line}`);
  for (const file of report.unassigned) console.log(`in no layer: ${file}`);
  for (const cycle of report.cycles) console.log(`cycle: ${cycle.join(' → ')}`);
  const problems = report.upward.length + report.unassigned.length + report.cycles.length;
  console.log(problems === 0 ? 'layers: ok' : `layers: ${problems} problem(s)`);
  process.exitCode = problems === 0 ? 0 : 1;
}
