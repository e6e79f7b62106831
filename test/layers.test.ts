/**
 * The layer rules (layers.json): nothing in src/ imports upward, every file is in a layer, and the
 * import graph has no cycles. The checker itself is tested on a small made-up tree.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkLayers } from '../scripts/layers.ts';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'animefy-layers-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('layers', () => {
  it('src/ follows layers.json: no upward imports, no file outside a layer, no import cycles', () => {
    const report = checkLayers();
    expect(report.upward).toEqual([]);
    expect(report.unassigned).toEqual([]);
    expect(report.cycles).toEqual([]);
  });

  it('the checker finds an upward import (type-only too), a file in no layer, and a cycle', () => {
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(scratch, file)), { recursive: true });
      fs.writeFileSync(path.join(scratch, file), text);
    };
    fs.copyFileSync(path.join(import.meta.dirname, '..', 'layers.json'), path.join(scratch, 'layers.json'));
    write('src/pipeline/sniff.ts', "import type { MediaKind } from '../queue/types.ts';\nexport const x = 1;\n");
    write('src/queue/types.ts', "export type MediaKind = 'image';\n");
    write('src/pipeline/a.ts', "import {\n  b,\n} from './b.ts';\nexport const a = b;\n");
    write('src/pipeline/b.ts', "export { a as b } from './a.ts';\n");
    write('src/stray.ts', 'export {};\n');
    const report = checkLayers(scratch);
    expect(report.upward).toEqual(['src/pipeline/sniff.ts (pipeline) imports src/queue/types.ts (queue)']);
    expect(report.unassigned).toEqual(['src/stray.ts']);
    expect(report.cycles).toEqual([['src/pipeline/a.ts', 'src/pipeline/b.ts', 'src/pipeline/a.ts']]);
  });
});
