/**
 * Progress by stage: the stages a job goes through, the events a caller is sent, and `Progress`,
 * which turns within-stage fractions into one honest overall percentage and times each stage.
 */
import { throwIfCancelled } from '../errors.ts';

export type Stage =
  | 'decode'
  | 'faces'
  | 'mask'
  | 'stylize'
  | 'colour'
  | 'face_stylize'
  | 'grade'
  | 'compose'
  | 'upscale'
  | 'encode'
  /** GIF and video: frames being stylized (`frame` of `frames` in the event). */
  | 'frames';

export interface ProgressEvent {
  stage: Stage;
  /** Overall progress of this job, 0..100. */
  percent: number;
  /** GIF and video, stage `frames`: frames finished so far, and in all (an estimate until the end). */
  frame?: number;
  frames?: number;
}

/** Relative cost of each stage, for an honest overall percentage. */
const STAGE_WEIGHT: Record<Stage, number> = {
  decode: 3,
  faces: 3,
  mask: 3,
  stylize: 50,
  colour: 2,
  face_stylize: 25,
  grade: 5,
  compose: 2,
  upscale: 60,
  encode: 4,
  frames: 90,
};

export function isStage(value: unknown): value is Stage {
  return typeof value === 'string' && Object.hasOwn(STAGE_WEIGHT, value);
}

export class Progress {
  private readonly plan: Stage[];
  private readonly total: number;
  private readonly started = performance.now();
  private stageStart = performance.now();
  readonly timings: Record<string, number> = {};

  constructor(
    stages: Stage[],
    private readonly listener?: (e: ProgressEvent) => void,
  ) {
    this.plan = stages;
    this.total = stages.reduce((sum, s) => sum + STAGE_WEIGHT[s], 0);
  }

  begin(stage: Stage): void {
    this.stageStart = performance.now();
    this.report(stage, 0);
  }

  /** Within-stage progress (0..1). */
  report(stage: Stage, fraction: number): void {
    if (!this.listener) return;
    const index = this.plan.indexOf(stage);
    const before = this.plan.slice(0, Math.max(0, index)).reduce((sum, s) => sum + STAGE_WEIGHT[s], 0);
    const percent = ((before + STAGE_WEIGHT[stage] * Math.min(1, Math.max(0, fraction))) / this.total) * 100;
    this.listener({ stage, percent: Math.round(percent * 10) / 10 });
  }

  end(stage: Stage): void {
    this.timings[stage] = Math.round((this.timings[stage] ?? 0) + performance.now() - this.stageStart);
  }

  /** Runs one stage of work: stops first when the job was cancelled, then times and reports it. */
  async stage<T>(stage: Stage, signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    throwIfCancelled(signal);
    this.begin(stage);
    const value = await work();
    this.end(stage);
    this.report(stage, 1);
    return value;
  }

  finish(): Record<string, number> {
    this.timings.total = Math.round(performance.now() - this.started);
    return this.timings;
  }
}
