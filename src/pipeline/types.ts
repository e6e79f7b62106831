/**
 * What the image pipeline is asked (`AnimefyRequest`) and what it hands back (`AnimefyResult`): shared
 * by its parts (image-pipeline.ts, avatar.ts), the media pipeline and animefy-any.ts.
 */
import type { OutputFormat } from './encode.ts';
import type { EmojiEffect } from './emoji-effects.ts';
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
  /** Sticker and emoji: the whole person instead of the face and shoulders. */
  body?: boolean;
  /** Emoji: the animation (default `bounce`). */
  effect?: EmojiEffect;
  /** Emoji: a short caption drawn on it (at most MAX_CAPTION_CHARS). */
  text?: string;
  /**
   * Sticker and emoji: the long side of the result in px. Default 512 (Telegram's sticker size); 320
   * is Discord's sticker size, 128 its emoji size.
   */
  size?: number;
  /**
   * Smile strength 0..1. With `operation: 'smile'` the faces of the real photo are made to smile
   * (default DEFAULT_SMILE_AMOUNT); with `animefy` they smile before stylizing (unset: no smile).
   */
  smile?: number;
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
  /** `landmarks`: every face on every frame, with its track id, box and 68 points (input pixels). */
  landmarks?: LandmarkFace[];
  /** Milliseconds per stage, and `total`. */
  timings: Record<string, number>;
  /** Things the user may want to know (e.g. an upscale that was capped). */
  notes: string[];
}

/** One face on one frame, as `landmarks` finds it (the `--points` JSON). */
export interface LandmarkFace {
  /** 0-based frame index (0 for a photo). */
  frame: number;
  /** Track id: the same face keeps its id across frames. */
  id: number;
  box: { x: number; y: number; w: number; h: number };
  /**
   * The 68 points (iBUG-300W order) in input pixels; null where they are not trustworthy (an anime
   * face whose points were judged poor: only the box and `keypoints` are given).
   */
  points: Array<[number, number]> | null;
  /** Eyes, nose tip and mouth corners when known (real faces: YuNet's five points). */
  keypoints?: Array<[number, number]>;
  kind: 'real' | 'anime';
}
