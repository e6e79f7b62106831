import { describe, expect, it } from 'vitest';
import { progressBar, progressText, queuedText, STAGE_LABELS, STARTING_TEXT } from '#src/bots/progress-text.ts';

describe('queuedText', () => {
  it('says "next" for position 1 (and below) and the position otherwise', () => {
    expect(queuedText(1)).toBe('⏳ Queued: you are next.');
    expect(queuedText(0)).toBe('⏳ Queued: you are next.');
    expect(queuedText(3)).toBe('⏳ Queued: position 3.');
    expect(queuedText(2)).toContain('position 2');
  });

  it('has a starting text', () => {
    expect(STARTING_TEXT.length).toBeGreaterThan(0);
  });
});

describe('progressText', () => {
  it('shows the stage label, the percent and a bar on a second line', () => {
    const text = progressText({ stage: 'stylize', percent: 42 });
    const [first, bar, ...rest] = text.split('\n');
    expect(first).toBe(`${STAGE_LABELS.stylize}… 42%`);
    expect(bar).toBe(progressBar(42));
    expect(rest).toEqual([]);
  });

  it('has a label for every stage', () => {
    for (const [stage, label] of Object.entries(STAGE_LABELS)) {
      expect(label.length).toBeGreaterThan(0);
      expect(progressText({ stage: stage as keyof typeof STAGE_LABELS, percent: 10 })).toContain(label);
    }
  });

  it('rounds the percent and clamps it to 0..100', () => {
    expect(progressText({ stage: 'decode', percent: 12.4 })).toContain('… 12%');
    expect(progressText({ stage: 'decode', percent: 12.5 })).toContain('… 13%');
    expect(progressText({ stage: 'encode', percent: 140 })).toContain('… 100%');
    expect(progressText({ stage: 'encode', percent: 140 }).split('\n')[1]).toBe('▰'.repeat(10));
    expect(progressText({ stage: 'decode', percent: -5 })).toContain('… 0%');
    expect(progressText({ stage: 'decode', percent: -5 }).split('\n')[1]).toBe('▱'.repeat(10));
  });

  it('adds frame counts for the frames stage', () => {
    expect(progressText({ stage: 'frames', percent: 30, frame: 12, frames: 40 })).toBe(
      `${STAGE_LABELS.frames} (frame 12 of 40)… 30%\n${progressBar(30)}`,
    );
    expect(progressText({ stage: 'frames', percent: 5, frames: 40 })).toContain('(frame 0 of 40)');
  });

  it('shows no frame counts when the total is unknown or the stage is another one', () => {
    expect(progressText({ stage: 'frames', percent: 5 })).not.toContain('frame ');
    expect(progressText({ stage: 'frames', percent: 5, frame: 0, frames: 0 })).not.toContain('(frame');
    expect(progressText({ stage: 'stylize', percent: 5, frame: 1, frames: 2 })).not.toContain('(frame');
  });
});

describe('progressBar', () => {
  it('is always `width` cells, filled in proportion', () => {
    for (const p of [-10, 0, 4, 5, 33, 50, 99, 100, 250]) {
      expect([...progressBar(p)]).toHaveLength(10);
      expect([...progressBar(p, 20)]).toHaveLength(20);
    }
    expect(progressBar(0)).toBe('▱'.repeat(10));
    expect(progressBar(50)).toBe('▰'.repeat(5) + '▱'.repeat(5));
    expect(progressBar(100)).toBe('▰'.repeat(10));
    expect(progressBar(34)).toBe('▰'.repeat(3) + '▱'.repeat(7));
    expect(progressBar(25, 4)).toBe('▰▱▱▱');
  });
});
