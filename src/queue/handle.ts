/**
 * The submitter's side of one job, shared by both backends: events, a result promise, cancel. The
 * backend drives it through the `mark*` methods; each terminal state is reached once.
 *
 * State changes at once; events are delivered on a later turn of the event loop, in order, so a
 * submitter that attaches listeners right after `await queue.submit()` never misses one.
 */
import { EventEmitter } from 'node:events';
import { AnimefyError } from '../errors.ts';
import { childLogger } from '../log.ts';
import type { ProgressEvent } from '../pipeline/progress.ts';
import type { JobEvents, JobHandle, JobResult, JobState } from './types.ts';

export class QueueJobHandle extends EventEmitter<JobEvents> implements JobHandle {
  readonly result: Promise<JobResult>;
  private currentState: JobState = 'queued';
  private currentPosition = 0;
  private readonly outbox: Array<() => void> = [];
  private resolve!: (result: JobResult) => void;
  private reject!: (error: AnimefyError) => void;

  constructor(
    readonly id: string,
    private readonly cancelJob: (handle: QueueJobHandle) => Promise<boolean>,
  ) {
    super();
    this.result = new Promise<JobResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Submitters may listen to events only; an unobserved rejection must not crash the process.
    this.result.catch(() => {});
  }

  get state(): JobState {
    return this.currentState;
  }

  get position(): number {
    return this.currentState === 'queued' ? this.currentPosition : 0;
  }

  get settled(): boolean {
    return this.currentState === 'done' || this.currentState === 'failed' || this.currentState === 'cancelled';
  }

  cancel(): Promise<boolean> {
    if (this.settled) return Promise.resolve(false);
    return this.cancelJob(this);
  }

  markPosition(position: number): void {
    if (this.currentState !== 'queued' || position === this.currentPosition) return;
    this.currentPosition = position;
    this.deliver(() => this.emit('position', position));
  }

  markRunning(): void {
    if (this.currentState !== 'queued') return;
    this.currentState = 'running';
    this.currentPosition = 0;
    this.deliver(() => this.emit('running'));
  }

  markProgress(event: ProgressEvent): void {
    if (this.settled) return;
    if (this.currentState === 'queued') this.markRunning();
    this.deliver(() => this.emit('progress', event));
  }

  markDone(result: JobResult): void {
    if (this.settled) return;
    this.currentState = 'done';
    this.deliver(() => {
      this.resolve(result);
      this.emit('done', result);
    });
  }

  /** A CANCELLED error settles the job as cancelled; anything else as failed. */
  markFailed(error: AnimefyError): void {
    if (this.settled) return;
    if (error.code === 'CANCELLED') {
      this.markCancelled();
      return;
    }
    this.currentState = 'failed';
    this.deliver(() => {
      this.reject(error);
      this.emit('failed', error);
    });
  }

  markCancelled(): void {
    if (this.settled) return;
    this.currentState = 'cancelled';
    this.deliver(() => {
      this.reject(new AnimefyError('CANCELLED'));
      this.emit('cancelled');
    });
  }

  private deliver(event: () => void): void {
    this.outbox.push(event);
    if (this.outbox.length === 1) setImmediate(() => this.flush());
  }

  private flush(): void {
    // Events queued while flushing are delivered in this same pass, still in order.
    for (let i = 0; i < this.outbox.length; i++) {
      try {
        this.outbox[i]();
      } catch (err) {
        // A submitter's listener threw: that is its bug, and must not stop this job's other events.
        childLogger({ module: 'queue', job: this.id }).error({ err }, 'job event listener threw');
      }
    }
    this.outbox.length = 0;
  }
}
