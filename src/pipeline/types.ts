/**
 * What the image pipeline is asked (`AnimefyRequest`) and what it hands back (`AnimefyResult`): shared
 * by its parts (image-pipeline.ts, avatar.ts), the media pipeline and animefy-any.ts.
 */
import type { OutputFormat } from './encode.ts';
import type { FaceLook, Mode, Operation, Quality, UpscaleFactor } from './modes.ts';
import type { PersonBox } from './people.ts';
import type { PersonChoice } from './person-choice.ts';
import type { ProgressEvent } from './progress.ts';
import type { FaceBox } from './stylize-faces.ts';

export interface AnimefyRequest {
  style: string;
  mode: Mode;
  upscale: UpscaleFactor;
  quality: Quality;
  format: OutputFormat;
  /** How faces are drawn (default `anime`). */
  faces?: FaceLook;
  /**
   * `animefy` (default): by mode. `erase`: removes the chosen people and rebuilds the background
   * (style, mode and faces are ignored). `people`: the numbered picker preview of who is in it.
   */
  operation?: Operation;
  /**
   * Who: person mode stylizes only them on the real background, erase removes them. Default
   * `largest`. Only for person mode and erase (BAD_OPTION otherwise).
   */
  person?: PersonChoice;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}

export interface AnimefyResult {
  data: Buffer;
  format: OutputFormat;
  mime: string;
  width: number;
  height: number;
  style: string;
  mode: Mode;
  /** Faces found in the picture. */
  faces: number;
  /** Faces that went through the face model. */
  stylizedFaces: number;
  /** One entry per face found, in detection order (`faces` long). */
  faceBoxes: FaceBox[];
  /**
   * Person mode, erase and the people preview: everyone found, numbered left to right, in input
   * pixels (`{index, x, y, w, h, score}`).
   */
  people?: PersonBox[];
  /** Person mode and erase: the numbers of the people stylized or erased. */
  chosen?: number[];
  /** Set for `erase` and `people`; absent for a plain animefy. */
  operation?: Operation;
  /** Milliseconds per stage, and `total`. */
  timings: Record<string, number>;
  /** Things the user may want to know (e.g. an upscale that was capped). */
  notes: string[];
}
