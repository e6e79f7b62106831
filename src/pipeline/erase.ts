/**
 * Erase: removes the chosen people from a photo and rebuilds the background behind them.
 *
 *   people + person mask → the chosen people's mask → hole (their visible extent, grown) → inpaint
 *     (with the other people nearby hidden too, so the fill is made of background, not neighbours)
 *     → the rebuilt pixels laid into the full-resolution photo inside the hole only → encode
 *
 * Refused when the people to erase cover more than MAX_ERASE_SHARE of the picture: with that little
 * background left, any fill is a smear, and a clear "no" is better than a ruined photo. Only people
 * the detector found are erased (never what only the segmenter saw). Style, mode and faces do not
 * apply; the result keeps the input's size (no upscale).
 */
import { AnimefyError } from '../errors.ts';
import type { ModelRuntime } from '../models/runtime.ts';
import { compose } from './compose.ts';
import type { Decoded } from './decode.ts';
import { encodeImage, FORMAT_MIME } from './encode.ts';
import { choosePeople, findPeople } from './find-people.ts';
import { inpaint } from './inpaint.ts';
import { personBoxes } from './people.ts';
import { DEFAULT_PERSON_CHOICE } from './person-choice.ts';
import { ERASE_HOLE_GROWTH, personHole, withOthersHidden } from './person-layer.ts';
import { coverage } from './person-split.ts';
import type { Progress } from './progress.ts';
import type { AnimefyRequest, AnimefyResult } from './types.ts';

/** The most of the picture the people to erase may cover (their mask area). */
export const MAX_ERASE_SHARE = 0.6;

export async function erasePeople(
  runtime: ModelRuntime,
  decoded: Decoded,
  request: AnimefyRequest,
  progress: Progress,
  notes: string[],
): Promise<AnimefyResult> {
  const { signal } = request;
  const photo = decoded.image;
  const found = await progress.stage('mask', signal, () =>
    findPeople(runtime, photo, { quality: request.quality, maskFallback: false, signal }),
  );
  const chosen = choosePeople(found, request.person ?? DEFAULT_PERSON_CHOICE);
  const share = coverage(chosen.mask);
  if (share > MAX_ERASE_SHARE) {
    throw new AnimefyError('ERASE_TOO_LARGE', {
      who: chosen.numbers.length === 1 ? 'That person fills' : 'Those people fill',
      percent: Math.round(share * 100),
      limit: Math.round(MAX_ERASE_SHARE * 100),
    });
  }
  const hole = personHole(found, chosen, ERASE_HOLE_GROWTH);
  // The rebuild is the heavy part: it runs as the `stylize` stage (painting the background in). The
  // neighbours are hidden from it so it rebuilds from background only; only `hole` is used from it.
  const started = performance.now();
  const plate = await progress.stage('stylize', signal, () => inpaint(photo, withOthersHidden(found, chosen, hole, ERASE_HOLE_GROWTH), { signal }));
  progress.timings.inpaint = Math.round(performance.now() - started);

  const { width, height } = decoded.original;
  if (request.upscale > 1) notes.push('Erase keeps the photo at its own size (no upscale).');
  const out = await progress.stage('compose', signal, () => compose(decoded, plate, hole, 'person', { width, height }));
  const data = await progress.stage('encode', signal, () => encodeImage({ width, height, rgb: out.rgb, alpha: out.alpha }, request.format));
  return {
    data,
    format: request.format,
    mime: FORMAT_MIME[request.format],
    width,
    height,
    style: request.style,
    mode: request.mode,
    operation: 'erase',
    faces: 0,
    stylizedFaces: 0,
    faceBoxes: [],
    people: personBoxes(found.people, width / photo.width),
    chosen: chosen.numbers,
    timings: progress.finish(),
    notes,
  };
}
