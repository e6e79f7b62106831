/**
 * `npm run bench`: speed and memory figures, as a table and one JSON document on stdout.
 *   npm run bench                 all sections
 *   npm run bench -- --quick      fewer cases, one run each (a smoke check)
 *   npm run bench -- --runs 5     more runs per case (medians)
 *   npm run bench -- --only pipeline   (sections: pipeline, faces, inpaint, people, fun, media, queue, telegram, discord)
 *   npm run bench -- --filter 1024   only the cases whose name contains "1024"
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { benchFaces } from './faces.ts';
import { benchFun } from './fun.ts';
import { benchInpaint } from './inpaint.ts';
import { benchMedia } from './media.ts';
import { benchPeople } from './people.ts';
import { benchPipeline } from './pipeline.ts';
import { benchQueue } from './queue.ts';
import { benchDiscord } from './discord.ts';
import { benchTelegram } from './telegram.ts';
import type { BenchSection } from './report.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    filter: { type: 'string' },
  },
});
const runs = values.quick ? 1 : Math.max(1, Number(values.runs));
const sections: Record<string, () => Promise<BenchSection>> = {
  pipeline: () => benchPipeline({ runs, quick: values.quick, filter: values.filter }),
  faces: () => benchFaces({ runs, quick: values.quick, filter: values.filter }),
  inpaint: () => benchInpaint({ runs, quick: values.quick, filter: values.filter }),
  people: () => benchPeople({ runs, quick: values.quick, filter: values.filter }),
  fun: () => benchFun({ runs, quick: values.quick, filter: values.filter }),
  media: () => benchMedia({ runs, quick: values.quick, filter: values.filter }),
  queue: () => benchQueue({ quick: values.quick }),
  telegram: () => benchTelegram({ quick: values.quick }),
  discord: () => benchDiscord({ quick: values.quick }),
};

const selected = values.only ? values.only.split(',') : Object.keys(sections);
const report: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
  runs,
};
for (const name of selected) {
  const run = sections[name];
  if (!run) throw new Error(`Unknown bench section "${name}" (have: ${Object.keys(sections).join(', ')})`);
  process.stderr.write(`bench: ${name}\n`);
  report[name] = await run();
}
console.log(`\n${JSON.stringify(report, null, 2)}`);
