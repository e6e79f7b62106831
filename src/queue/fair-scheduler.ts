/**
 * The order of waiting jobs: higher priority first; within a priority, the requester served least
 * recently goes next (so one user's ten jobs alternate with everyone else's instead of starving
 * them); one requester's own jobs stay first-in, first-out.
 */
export interface Schedulable {
  /** Fairness key: `platform:userId`. */
  readonly requester: string;
  readonly priority: number;
}

/** How many "last served" stamps are kept (older requesters count as never served). */
const MAX_REMEMBERED = 10_000;

export class FairScheduler<T extends Schedulable> {
  private readonly queues = new Map<string, T[]>();
  private readonly lastServed = new Map<string, number>();
  private readonly arrival = new Map<T, number>();
  private clock = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(item: T): void {
    let queue = this.queues.get(item.requester);
    if (!queue) this.queues.set(item.requester, (queue = []));
    queue.push(item);
    this.arrival.set(item, ++this.clock);
    this.count++;
  }

  /** Takes a waiting item out of line; false when it was not waiting. */
  remove(item: T): boolean {
    const queue = this.queues.get(item.requester);
    const index = queue ? queue.indexOf(item) : -1;
    if (!queue || index < 0) return false;
    queue.splice(index, 1);
    if (queue.length === 0) this.queues.delete(item.requester);
    this.arrival.delete(item);
    this.count--;
    return true;
  }

  /** The next item to run, taken out of line. */
  next(): T | undefined {
    const requester = this.pick(this.queues, this.lastServed);
    if (requester === undefined) return undefined;
    const queue = this.queues.get(requester)!;
    const item = queue.shift()!;
    if (queue.length === 0) this.queues.delete(requester);
    this.arrival.delete(item);
    this.count--;
    this.serve(requester);
    return item;
  }

  /** Every waiting item in the order they would run (position = index + 1). */
  order(): T[] {
    const queues = new Map<string, T[]>([...this.queues].map(([key, queue]) => [key, [...queue]]));
    const served = new Map(this.lastServed);
    const order: T[] = [];
    let tick = this.clock;
    for (;;) {
      const requester = this.pick(queues, served);
      if (requester === undefined) return order;
      const queue = queues.get(requester)!;
      order.push(queue.shift()!);
      if (queue.length === 0) queues.delete(requester);
      served.set(requester, ++tick);
    }
  }

  private pick(queues: Map<string, T[]>, served: Map<string, number>): string | undefined {
    let best: string | undefined;
    let bestHead: T | undefined;
    for (const [requester, queue] of queues) {
      const head = queue[0];
      if (!bestHead || this.before(head, served.get(requester) ?? 0, bestHead, served.get(best!) ?? 0)) {
        best = requester;
        bestHead = head;
      }
    }
    return best;
  }

  private before(a: T, aServed: number, b: T, bServed: number): boolean {
    if (a.priority !== b.priority) return a.priority > b.priority;
    if (aServed !== bServed) return aServed < bServed;
    return (this.arrival.get(a) ?? 0) < (this.arrival.get(b) ?? 0);
  }

  private serve(requester: string): void {
    this.lastServed.delete(requester); // re-insert to keep the map in serve order
    this.lastServed.set(requester, ++this.clock);
    if (this.lastServed.size > MAX_REMEMBERED) {
      const oldest = this.lastServed.keys().next().value;
      if (oldest !== undefined) this.lastServed.delete(oldest);
    }
  }
}
