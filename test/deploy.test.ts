/**
 * Static checks of deploy/ against the repository (Docker cannot run in CI): the npm scripts, settings
 * and files that the Dockerfiles and compose files name must exist, and nothing they COPY may be
 * excluded by .dockerignore. No YAML parser: the compose files are read line by line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, parseConfig, REPO_ROOT } from '#src/config.ts';

const read = (rel: string) => fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');

const DOCKERFILES = ['deploy/Dockerfile', 'deploy/Dockerfile.gpu'];
const COMPOSE_FILES = ['deploy/compose.yml', 'deploy/compose.gpu.yml'];
const DEPLOY_FILES = [...DOCKERFILES, ...COMPOSE_FILES, 'deploy/README.md'];

const pkg = JSON.parse(read('package.json')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies?: Record<string, string>;
};

/** Lines without comments (`#` at the start of a line, after optional spaces). */
function withoutComments(text: string): string {
  return text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n');
}

/** Every npm script a deploy file runs: `npm run x`, `npm start`, and exec-form `["npm", "run", "x"]`. */
function npmScripts(text: string): string[] {
  const found = new Set<string>();
  for (const m of text.matchAll(/\bnpm\s+run\s+([\w:.-]+)/g)) found.add(m[1]);
  for (const m of text.matchAll(/"npm"\s*,\s*"run"\s*,\s*"([\w:.-]+)"/g)) found.add(m[1]);
  if (/\bnpm\s+start\b|"npm"\s*,\s*"start"/.test(text)) found.add('start');
  return [...found];
}

/** ANIMEFY_* settings given a value: compose `KEY: value` / `- KEY=value`, Dockerfile `ENV KEY=value`. */
function settings(file: string): Array<{ key: string; value: string; line: string }> {
  const out: Array<{ key: string; value: string; line: string }> = [];
  const unquote = (v: string) => v.trim().replace(/^(["'])(.*)\1$/, '$2');
  for (const line of withoutComments(read(file)).split('\n')) {
    const map = /^\s+(ANIMEFY_\w+):\s*(.*?)\s*$/.exec(line);
    const list = /^\s*-\s*["']?(ANIMEFY_\w+)=(.*?)["']?\s*$/.exec(line);
    if (map) out.push({ key: map[1], value: unquote(map[2]), line });
    else if (list) out.push({ key: list[1], value: unquote(list[2]), line });
    else if (file.includes('Dockerfile')) {
      for (const m of line.matchAll(/\b(ANIMEFY_\w+)=("[^"]*"|\S+)/g)) out.push({ key: m[1], value: unquote(m[2]), line });
    }
  }
  return out;
}

function configKeys(): Set<string> {
  return new Set<string>(CONFIG_KEYS);
}

/** `.dockerignore` semantics: patterns in order, `!` re-includes, a matching parent excludes a file. */
function dockerignore(): (rel: string) => boolean {
  const rules = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = path.posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, ''));
      const source = pattern
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((part) =>
          part === '**/' ? '(?:.*/)?' : part === '**' ? '.*' : part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
        )
        .join('');
      return { negate, re: new RegExp(`^${source}$`) };
    });
  return (rel) => {
    const parts = rel.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) if (candidates.some((c) => rule.re.test(c))) excluded = !rule.negate;
    return excluded;
  };
}

function filesUnder(rel: string): string[] {
  const full = path.join(REPO_ROOT, rel);
  if (!fs.statSync(full).isDirectory()) return [rel];
  return fs.readdirSync(full).flatMap((name) => filesUnder(path.posix.join(rel, name)));
}

describe('deploy files', () => {
  it('exist', () => {
    for (const file of [...DEPLOY_FILES, '.dockerignore']) expect(fs.existsSync(path.join(REPO_ROOT, file)), file).toBe(true);
  });

  it('run the bot and the workers with node itself, the same command as their npm scripts', () => {
    // npm exits on SIGTERM without passing it on: long-running services must not run through it.
    const commands = DEPLOY_FILES.flatMap((file) =>
      [...withoutComments(read(file)).matchAll(/\[\s*"node"\s*,\s*"--import"\s*,\s*"tsx"\s*,\s*"([^"]+)"\s*\]/g)].map((m) => m[1]),
    );
    expect(new Set(commands)).toEqual(new Set(['src/app/bot.ts', 'src/app/worker.ts']));
    for (const entry of commands) {
      expect(fs.existsSync(path.join(REPO_ROOT, entry)), entry).toBe(true);
      expect(Object.values(pkg.scripts as Record<string, string>)).toContain(`node --import tsx ${entry}`);
    }
    expect(pkg.dependencies.tsx, 'tsx must be a runtime dependency').toBeDefined();
  });

  it('run only npm scripts that package.json has, whose entry files exist', () => {
    const used = new Set(DEPLOY_FILES.flatMap((file) => npmScripts(read(file))));
    expect([...used]).toEqual(expect.arrayContaining(['models']));
    for (const script of used) {
      expect(pkg.scripts[script], `package.json has no "${script}" script (used in deploy/)`).toBeTypeOf('string');
      for (const m of pkg.scripts[script].matchAll(/(?:^|\s)([\w./-]+\.(?:ts|mjs|js))\b/g)) {
        expect(fs.existsSync(path.join(REPO_ROOT, m[1])), `"${script}" runs ${m[1]}, which does not exist`).toBe(true);
      }
      // The images install with --omit=dev: whatever a script starts must be a runtime dependency.
      const bin = pkg.scripts[script].split(/\s+/)[0];
      if (bin !== 'node') {
        expect(pkg.dependencies[bin], `"${script}" needs ${bin} in dependencies (images omit devDependencies)`).toBeDefined();
      }
    }
  });

  it('set only real ANIMEFY_* settings, with values the config accepts', () => {
    const keys = configKeys();
    // the source scan finds the schema: every key parseConfig fills in by default is in it
    for (const key of Object.keys(parseConfig({}))) expect(keys.has(key), key).toBe(true);
    const seen = new Set<string>();
    for (const file of [...COMPOSE_FILES, ...DOCKERFILES]) {
      for (const { key, value, line } of settings(file)) {
        seen.add(key);
        expect(keys.has(key), `${file}: ${key} is not a setting in src/config.ts (${line.trim()})`).toBe(true);
        if (value !== '') {
          expect(() => parseConfig({ [key]: value }), `${file}: ${key}=${value}`).not.toThrow();
          expect(parseConfig({ [key]: value })).toHaveProperty(key);
        }
      }
    }
    for (const key of ['ANIMEFY_REDIS_URL', 'ANIMEFY_METRICS_PORT', 'ANIMEFY_METRICS_HOST', 'ANIMEFY_CONCURRENCY', 'ANIMEFY_MODELS_DIR', 'ANIMEFY_EXECUTION_PROVIDERS']) {
      expect(seen.has(key), `deploy files set ${key}`).toBe(true);
    }
  });

  it('COPY files that exist and that .dockerignore lets into the build context', () => {
    const ignored = dockerignore();
    for (const file of DOCKERFILES) {
      const copies = read(file)
        .split('\n')
        .filter((line) => /^COPY\s/.test(line) && !/--from=/.test(line));
      expect(copies.length, file).toBeGreaterThan(0);
      for (const line of copies) {
        const args = line.trim().split(/\s+/).slice(1).filter((a) => !a.startsWith('--'));
        const sources = args.slice(0, -1);
        expect(sources.length, line).toBeGreaterThan(0);
        for (const src of sources) {
          expect(fs.existsSync(path.join(REPO_ROOT, src)), `${file}: COPY ${src} does not exist`).toBe(true);
          for (const rel of filesUnder(src)) expect(ignored(rel), `${file}: ${rel} is excluded by .dockerignore`).toBe(false);
        }
      }
    }
    // and the things that must stay out
    for (const rel of ['node_modules/x/index.js', 'models/hayao.onnx', 'models/.verified.json', '.env', 'deploy/.env', '.git/HEAD', 'scratch/a.ts']) {
      expect(ignored(rel), rel).toBe(true);
    }
  });

  it('build every image from the repository root with Dockerfiles that exist', () => {
    for (const file of COMPOSE_FILES) {
      const text = withoutComments(read(file));
      const contexts = [...text.matchAll(/^\s+context:\s*(\S+)/gm)].map((m) => m[1]);
      const dockerfiles = [...text.matchAll(/^\s+dockerfile:\s*(\S+)/gm)].map((m) => m[1]);
      expect(dockerfiles.length, file).toBeGreaterThan(0);
      for (const c of contexts) expect(path.resolve(REPO_ROOT, 'deploy', c), `${file}: context ${c}`).toBe(REPO_ROOT);
      for (const d of dockerfiles) expect(DOCKERFILES, `${file}: dockerfile ${d}`).toContain(d);
    }
  });

  it('keep models in one place: the volume mount is ANIMEFY_MODELS_DIR everywhere', () => {
    const dirs = new Set(
      [...COMPOSE_FILES, ...DOCKERFILES].flatMap((f) => settings(f).filter((s) => s.key === 'ANIMEFY_MODELS_DIR').map((s) => s.value)),
    );
    expect([...dirs]).toHaveLength(1);
    const [dir] = [...dirs];
    expect(path.isAbsolute(dir)).toBe(true);
    // not under /app, or the volume would hide the image's models/manifest.json
    expect(dir.startsWith('/app/') || dir === '/app').toBe(false);
    const compose = read('deploy/compose.yml');
    const mounts = [...compose.matchAll(/^\s+-\s*models:(\S+?)(?::ro)?\s*$/gm)].map((m) => m[1]);
    expect(mounts.length).toBeGreaterThanOrEqual(3);
    for (const m of mounts) expect(m).toBe(dir);
  });

  it('install onnxruntime-node without CUDA for the CPU image and with it for the GPU image', () => {
    const cpu = read('deploy/Dockerfile');
    expect(cpu).toMatch(/ONNXRUNTIME_NODE_INSTALL=skip/);
    expect(cpu).toMatch(/npm ci --omit=dev/);
    expect(cpu).toMatch(/^USER node$/m);
    const gpu = read('deploy/Dockerfile.gpu');
    expect(gpu).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci --omit=dev/);
    expect(gpu).toMatch(/^USER node$/m);
    expect(read('deploy/compose.gpu.yml')).toMatch(/driver: nvidia/);
  });

  it('use no tabs in YAML', () => {
    for (const file of COMPOSE_FILES) expect(read(file).includes('\t'), file).toBe(false);
  });
});
