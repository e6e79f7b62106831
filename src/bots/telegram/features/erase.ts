/**
 * /erase: removes a person from a photo and rebuilds the background behind them. In the caption of
 * a photo, or as a reply to one (`/erase@ThisBot` in groups, which privacy mode delivers). With
 * several people the numbered preview comes first, with a button per person; with one, it goes
 * straight on. Photos only: a GIF or video gets a clear refusal from the pipeline.
 */
import { Composer, type Context } from 'grammy';
import { parsePersonChoice } from '../../../pipeline/person-choice.ts';
import { jobFor, onMediaCommand, type TelegramFeature } from './feature.ts';

const NO_PHOTO_TEXT = 'Send /erase as the caption of a photo, or reply to a photo with /erase. I show who is in it, then you pick who goes.';

export const erase: TelegramFeature = {
  menu: [{ command: 'erase', description: 'Remove a person from a photo (caption or reply)' }],
  composer(deps) {
    const composer = new Composer<Context>();
    onMediaCommand(composer, deps, ['erase'], NO_PHOTO_TEXT, (command) => {
      // "/erase 2" picks at once; otherwise the preview asks.
      const person = command.args ? parsePersonChoice(command.args) : undefined;
      deps.jobs.start(jobFor(command, person ? { operation: 'erase', person } : { operation: 'people', pickFor: 'erase' }));
    });
    return composer;
  },
};
