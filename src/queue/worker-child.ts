/**
 * The worker process: started by WorkerPool with an IPC channel, it loads the pipeline once (models
 * stay loaded between jobs) and runs one task at a time. It exits when its parent goes away, so a
 * killed bot or worker never leaves orphans behind.
 */
import { AnimefyError, isAnimefyError } from '../errors.ts';
import { getConfig } from '../config.ts';
import { childLogger } from '../log.ts';
import { ImagePipeline } from '../pipeline/image-pipeline.ts';
import { MediaPipeline } from '../pipeline/media/media-pipeline.ts';
import { sweepStaleTempDirs } from '../pipeline/media/temp.ts';
import { DEFAULT_STYLE, getStyle, styleModels } from '../pipeline/styles.ts';
import { runTask } from './job-runner.ts';
import type { ChildMessage, ParentMessage } from './worker-protocol.ts';

const log = childLogger({ module: 'worker-child', pid: process.pid });

if (!process.send) {
  log.error('worker-child must be started by WorkerPool (it needs an IPC channel)');
  process.exit(2);
}

const config = getConfig();
const animefier = ImagePipeline.fromConfig(config);
const media = MediaPipeline.fromConfig(config, animefier);
const running = new Map<string, AbortController>();

function send(message: ChildMessage): void {
  if (process.connected) process.send!(message);
}

async function run(message: Extract<ParentMessage, { type: 'run' }>): Promise<void> {
  const { task } = message;
  const controller = new AbortController();
  running.set(task.id, controller);
  try {
    const result = await runTask({ image: animefier, media }, { ...task, input: Buffer.from(task.input.buffer, task.input.byteOffset, task.input.byteLength) }, {
      signal: controller.signal,
      onProgress: (event) => send({ type: 'progress', id: task.id, event }),
    });
    send({ type: 'done', id: task.id, result });
  } catch (err) {
    if (!isAnimefyError(err)) log.error({ err, job: task.id, kind: task.kind, style: task.options.style }, 'job failed');
    const error = isAnimefyError(err) ? err : new AnimefyError('INTERNAL', {}, { cause: err });
    send({ type: 'failed', id: task.id, error: error.toJSON() });
  } finally {
    running.delete(task.id);
  }
}

process.on('message', (message: ParentMessage) => {
  switch (message.type) {
    case 'run':
      void run(message);
      break;
    case 'cancel':
      running.get(message.id)?.abort();
      break;
    case 'shutdown':
      void animefier.dispose().finally(() => process.exit(0));
      break;
  }
});

// The parent died or closed the channel: nothing can receive our results any more.
process.on('disconnect', () => process.exit(0));

send({ type: 'ready' });

// Temporary directories of workers that were killed mid-job (the pool replaces them at once).
void sweepStaleTempDirs(config.ANIMEFY_TEMP_DIR).then((removed) => {
  if (removed > 0) log.info({ removed }, 'removed temporary files left by stopped workers');
});

/**
 * Loads the models of the default path while the worker waits for its first job, so that job does
 * not pay for them. A job that arrives meanwhile shares the same loads; failures are reported by the
 * job that needs the model.
 */
for (const id of ['yunet', ...styleModels(getStyle(DEFAULT_STYLE))]) {
  Promise.resolve()
    .then(() => animefier.runtime.load(id))
    .catch((err: unknown) => log.debug({ err, model: id }, 'preload failed'));
}
