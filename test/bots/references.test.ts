import { describe, expect, it } from 'vitest';
import { ReferenceStore } from '#src/bots/references.ts';

function clocked<T>(ttlMs: number, maxEntries?: number) {
  const clock = { t: 5_000 };
  const store = new ReferenceStore<T>(ttlMs, maxEntries, () => clock.t);
  return { store, clock };
}

describe('ReferenceStore', () => {
  it('returns tokens of at most 10 URL-safe characters that give back the value', () => {
    const { store } = clocked<{ fileId: string }>(60_000);
    const value = { fileId: 'AgACAgIAAxkBAAI' };
    const token = store.put(value);
    expect(token.length).toBeGreaterThan(0);
    expect(token.length).toBeLessThanOrEqual(10);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(token).not.toContain(':'); // callback data uses ':' as a separator
    expect(store.get(token)).toBe(value);
  });

  it('gives every value its own token', () => {
    const { store } = clocked<number>(60_000);
    const tokens = new Set<string>();
    for (let i = 0; i < 2_000; i++) tokens.add(store.put(i));
    expect(tokens.size).toBe(2_000);
    expect(store.size).toBe(2_000);
    for (const token of [...tokens].slice(0, 50)) expect(store.get(token)).toBeTypeOf('number');
  });

  it('forgets a value once its TTL has passed', () => {
    const { store, clock } = clocked<string>(1_000);
    const token = store.put('a');
    clock.t += 999;
    expect(store.get(token)).toBe('a');
    clock.t += 1;
    expect(store.get(token)).toBeUndefined();
    expect(store.size).toBe(0);
    clock.t -= 500; // even if asked again earlier, it is gone
    expect(store.get(token)).toBeUndefined();
  });

  it('each entry expires on its own schedule', () => {
    const { store, clock } = clocked<string>(1_000);
    const first = store.put('first');
    clock.t += 600;
    const second = store.put('second');
    clock.t += 500;
    expect(store.get(first)).toBeUndefined();
    expect(store.get(second)).toBe('second');
  });

  it('evicts the oldest entries past maxEntries', () => {
    const { store } = clocked<string>(60_000, 3);
    const a = store.put('a');
    const b = store.put('b');
    const c = store.put('c');
    const d = store.put('d');
    expect(store.size).toBe(3);
    expect(store.get(a)).toBeUndefined();
    expect([store.get(b), store.get(c), store.get(d)]).toEqual(['b', 'c', 'd']);
    const e = store.put('e');
    expect(store.get(b)).toBeUndefined();
    expect(store.get(e)).toBe('e');
    expect(store.size).toBe(3);
  });

  it('delete forgets a token and leaves the others', () => {
    const { store } = clocked<string>(60_000);
    const a = store.put('a');
    const b = store.put('b');
    store.delete(a);
    expect(store.get(a)).toBeUndefined();
    expect(store.get(b)).toBe('b');
    expect(store.size).toBe(1);
    expect(() => store.delete('unknown')).not.toThrow();
  });

  it('an unknown token is undefined', () => {
    const { store } = clocked<string>(60_000);
    store.put('a');
    expect(store.get('nope')).toBeUndefined();
    expect(store.get('')).toBeUndefined();
  });
});
