/**
 * Who is picked in a picture with several people: one list of rules for every surface (CLI
 * `--person`, the queue's `JobOptions.person`, the bots' pickers).
 *
 * - a list of 1-based numbers (people are numbered left to right, see people.ts): those people;
 * - `largest`: the most prominent person (person-mask area times detector score; the default in
 *   person mode and for erase, and the only choice there is when a picture has one person);
 * - `all`: everyone the detector found.
 */
import { AnimefyError } from '../errors.ts';
import type { Mode, Operation } from './modes.ts';

export type PersonChoice = 'largest' | 'all' | readonly number[];

export const DEFAULT_PERSON_CHOICE: PersonChoice = 'largest';

/** More than this many numbers in one choice is not a pick but a mistake. */
const MAX_PICKED = 50;

/**
 * `2`, `1,3`, `1 3`, `largest`, `all` (or an array / number from JSON). Throws BAD_OPTION for
 * anything else; duplicates are dropped and the numbers sorted.
 */
export function parsePersonChoice(value: unknown): PersonChoice {
  if (value === 'largest' || value === 'all') return value;
  let numbers: unknown[];
  if (typeof value === 'number') numbers = [value];
  else if (Array.isArray(value)) numbers = value;
  else if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (v === 'largest' || v === 'all') return v;
    numbers = v.split(/[\s,]+/).filter(Boolean).map(Number);
  } else numbers = [];
  const valid = numbers.length > 0 && numbers.length <= MAX_PICKED && numbers.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 999);
  if (!valid) {
    throw new AnimefyError('BAD_OPTION', {
      detail: `Person must be a number from the numbered preview (e.g. 2), several (1,3), largest or all (got "${String(value)}").`,
    });
  }
  return [...new Set(numbers as number[])].sort((a, b) => a - b);
}

/** The choice as the CLI and results write it: `2`, `1,3`, `largest`, `all`. */
export function formatPersonChoice(choice: PersonChoice): string {
  return typeof choice === 'string' ? choice : choice.join(',');
}

/**
 * Positions (0-based, in `people` order = left to right) of the people a choice picks. `prominence`
 * is each person's size for `largest`. Throws NO_PERSON_FOUND with no people, and
 * PERSON_NOT_FOUND, naming how many there are, for a number past the last person.
 */
export function resolvePersonChoice(choice: PersonChoice, count: number, prominence: readonly number[]): number[] {
  if (count === 0) throw new AnimefyError('NO_PERSON_FOUND');
  if (choice === 'all') return Array.from({ length: count }, (_, i) => i);
  if (choice === 'largest') {
    let best = 0;
    for (let i = 1; i < count; i++) if ((prominence[i] ?? 0) > (prominence[best] ?? 0)) best = i;
    return [best];
  }
  const missing = choice.find((n) => n > count);
  if (missing !== undefined) throw personNotFound(missing, count);
  return choice.map((n) => n - 1);
}

export function personNotFound(index: number, count: number): AnimefyError {
  return new AnimefyError('PERSON_NOT_FOUND', {
    index,
    count,
    found: count === 1 ? 'is only 1 person in that picture' : `are ${count} people in that picture (numbered from left to right)`,
    choices: count === 1 ? '1' : count === 2 ? '1 or 2' : `a number from 1 to ${count}`,
  });
}

/**
 * Picking people is for person mode and erase (the preview ignores it): anywhere else `person`
 * would be silently ignored, so it is refused instead.
 */
export function checkPersonOption(mode: Mode, operation: Operation | undefined, person: unknown): void {
  if (person === undefined || operation === 'erase' || operation === 'people') return;
  if (mode !== 'person') {
    throw new AnimefyError('BAD_OPTION', {
      detail: `Picking a person works in person mode and for erase, not in ${mode} mode.`,
    });
  }
}
