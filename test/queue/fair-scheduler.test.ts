import { describe, expect, it } from 'vitest';
import { FairScheduler } from '#src/queue/fair-scheduler.ts';

interface Item {
  requester: string;
  priority: number;
  name: string;
}

function scheduler(names: string[]): { s: FairScheduler<Item>; items: Map<string, Item> } {
  const s = new FairScheduler<Item>();
  const items = new Map<string, Item>();
  for (const name of names) {
    const item = { requester: name.replace(/\d+$/, ''), priority: 0, name };
    items.set(name, item);
    s.push(item);
  }
  return { s, items };
}

function drain(s: FairScheduler<Item>): string[] {
  const out: string[] = [];
  for (let item = s.next(); item; item = s.next()) out.push(item.name);
  return out;
}

describe('FairScheduler', () => {
  it('alternates between requesters instead of running one requester’s backlog first', () => {
    const { s } = scheduler(['a1', 'a2', 'a3', 'a4', 'b1', 'b2', 'c1']);
    const planned = s.order().map((i) => i.name);
    expect(planned).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4']);
    expect(drain(s)).toEqual(planned);
    expect(s.size).toBe(0);
  });

  it('puts a newcomer ahead of a requester that was just served', () => {
    const { s } = scheduler(['a1', 'a2', 'a3']);
    expect(s.next()?.name).toBe('a1');
    s.push({ requester: 'b', priority: 0, name: 'b1' });
    expect(drain(s)).toEqual(['b1', 'a2', 'a3']);
  });

  it('runs higher priorities first, fairly within a priority', () => {
    const { s } = scheduler(['a1', 'a2', 'b1']);
    s.push({ requester: 'v', priority: 5, name: 'v1' });
    s.push({ requester: 'v', priority: 5, name: 'v2' });
    expect(drain(s)).toEqual(['v1', 'v2', 'a1', 'b1', 'a2']);
  });

  it('removes a waiting item and keeps the rest in order', () => {
    const { s, items } = scheduler(['a1', 'b1', 'a2']);
    expect(s.remove(items.get('b1')!)).toBe(true);
    expect(s.remove(items.get('b1')!)).toBe(false);
    expect(s.order().map((i) => i.name)).toEqual(['a1', 'a2']);
    expect(s.size).toBe(2);
  });
});
