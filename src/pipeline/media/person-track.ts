/**
 * Following the chosen people through a GIF or video (person mode with `--person`).
 *
 * The choice is made on the first frame with anyone in it, with the photo rules (people numbered left
 * to right on that frame, as the picker preview of the clip shows them; `largest` by mask area).
 * From then on each chosen person is matched frame to frame to the detection whose box overlaps
 * their last box most (IoU); when two detections overlap it about equally (people crossing), the one
 * holding the person's face wins: the face whose box is nearest the face they had last.
 *
 * A person the detector misses for a few frames keeps their last box as a stand-in, so their mask is
 * still cut there and they do not blink back to real; after `maxGap` missed frames they are let go.
 */
import { intersectionOverUnion, type Face } from '../faces.ts';
import type { Rect } from '../image.ts';
import type { Person } from '../people.ts';
import { resolvePersonChoice, type PersonChoice } from '../person-choice.ts';
import { facesOwners, splitPersonMask, type PersonSplit } from '../person-split.ts';
import type { Image, Mask } from '../image.ts';

interface Target {
  box: Rect;
  score: number;
  /** The face box they had when last seen with one. */
  face?: Rect;
  missed: number;
}

export interface TrackedFrame {
  /** The frame's people, stand-ins for missed targets appended. */
  people: Person[];
  split: PersonSplit;
  /** Positions in `people` of the tracked people this frame. */
  positions: number[];
}

/** Below this IoU a detection is not the same person as in the previous frame. */
const MIN_IOU = 0.2;
/** Two candidates within this IoU of each other are a tie, decided by the face. */
const IOU_TIE = 0.1;

export class PersonTrack {
  private targets: Target[] | undefined;

  constructor(
    private readonly choice: PersonChoice,
    private readonly maxGap = 8,
  ) {}

  /** Whether the choice has been made (a frame with people has been seen). */
  get started(): boolean {
    return this.targets !== undefined;
  }

  /**
   * One frame: its detected people, person mask and faces. Throws PERSON_NOT_FOUND / NO_PERSON_FOUND
   * when a numbered choice cannot be made on the first frame.
   */
  frame(detected: readonly Person[], mask: Mask, faces: readonly Face[], image?: Image): TrackedFrame {
    if (!this.targets) return this.start(detected, mask, faces, image);
    const people = [...detected];
    const positions: number[] = [];
    const taken = new Set<number>();
    let split = splitPersonMask(mask, people, { image });
    const owners = facesOwners(faces, people, split);
    const faceOf = (i: number): Rect | undefined => faces.find((_, f) => owners[f] === i)?.box;

    let standIns = false;
    for (const target of this.targets) {
      const candidates = people
        .map((p, i) => ({ i, iou: intersectionOverUnion(target.box, p.box) }))
        .filter((c) => c.iou > MIN_IOU && !taken.has(c.i))
        .sort((a, b) => b.iou - a.iou);
      let pick = candidates[0];
      if (pick && target.face && candidates.length > 1 && candidates[0].iou - candidates[1].iou < IOU_TIE) {
        // A tie: the detection holding the face nearest the person's last face.
        const near = (c: { i: number }) => {
          const face = faceOf(c.i);
          return face ? intersectionOverUnion(face, target.face!) : -1;
        };
        pick = candidates.filter((c) => candidates[0].iou - c.iou < IOU_TIE).sort((a, b) => near(b) - near(a))[0];
      }
      if (pick) {
        taken.add(pick.i);
        positions.push(pick.i);
        target.box = people[pick.i].box;
        target.score = people[pick.i].score;
        target.face = faceOf(pick.i) ?? target.face;
        target.missed = 0;
      } else if (target.missed < this.maxGap) {
        target.missed++;
        people.push({ index: people.length + 1, box: target.box, score: target.score });
        positions.push(people.length - 1);
        standIns = true;
      }
    }
    this.targets = this.targets.filter((t) => t.missed < this.maxGap);
    // Stand-ins change who owns what: cut again with them.
    if (standIns) split = splitPersonMask(mask, people, { image });
    return { people, split, positions };
  }

  private start(detected: readonly Person[], mask: Mask, faces: readonly Face[], image?: Image): TrackedFrame {
    const people = [...detected];
    const split = splitPersonMask(mask, people, { image });
    // Numbers must exist on the first frame (that is what the preview shows); `largest` and `all`
    // wait for the first frame with anyone in it.
    if (people.length === 0 && typeof this.choice === 'string') return { people, split, positions: [] };
    // `largest` as for photos: mask area times detector score (find-people.ts).
    const positions = resolvePersonChoice(this.choice, people.length, split.areas.map((area, i) => area * people[i].score));
    const owners = facesOwners(faces, people, split);
    this.targets = positions.map((i) => ({
      box: people[i].box,
      score: people[i].score,
      face: faces.find((_, f) => owners[f] === i)?.box,
      missed: 0,
    }));
    return { people, split, positions };
  }
}
