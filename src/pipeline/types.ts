/**
 * What the image pipeline is asked (`AnimefyRequest`) and what it hands back (`AnimefyResult`): shared
 * by its parts (image-pipeline.ts, avatar.ts), the media pipeline and animefy-any.ts.
 */
import type { OutputFormat } from './encode.ts';
import type { FaceLook, Mode, Quality, UpscaleFactor } from './modes.ts';
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
  /** Milliseconds per stage, and `total`. */
  timings: Record<string, number>;
  /** Things the user may want to know (e.g. an upscale that was capped). */
  notes: string[];
}
