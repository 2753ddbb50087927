// plugin/stores/held-refunds.ts
// Refunds (the unused part of an LLM-token reservation) held back for a moment, so that most ride
// along with the same client's next decision as one more argument instead of costing Redis an
// operation of their own: a busy client's next request usually comes within the hold. Whatever
// no decision claimed goes out when the hold ends, in one batch. Holding a refund only keeps the
// bucket stricter meanwhile (it never admits more); a debt is never held.

interface Waiter { resolve(): void; reject(error: unknown): void }
interface Held { amount: number; readonly waiters: Waiter[] }

/** A refund handed to a decision: its amount, and the call that reports whether it reached Redis. */
interface ClaimedRefund {
  readonly amount: number;
  done(error?: unknown): void;
}

function report(waiters: readonly Waiter[], error?: unknown): void {
  for (const waiter of waiters) {
    if (error === undefined) waiter.resolve();
    else waiter.reject(error);
  }
}

export class HeldRefunds {
  private held = new Map<string, Held>();
  private timer: NodeJS.Timeout | undefined;

  /** `send` writes a refund nobody claimed; `holdMs` is the longest a refund waits. */
  constructor(private readonly send: (key: string, amount: number) => Promise<unknown>, private readonly holdMs: number) {}

  /** Holds `amount` (>= 0) for `key`; resolves once it reached Redis, by a decision or on its own. */
  add(key: string, amount: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let entry = this.held.get(key);
      if (entry === undefined) {
        entry = { amount: 0, waiters: [] };
        this.held.set(key, entry);
      }
      entry.amount += amount;
      entry.waiters.push({ resolve, reject });
      if (this.timer === undefined) {
        this.timer = setTimeout(this.release, this.holdMs);
        // An exiting process does not wait for refunds: losing one only leaves a bucket stricter.
        this.timer.unref();
      }
    });
  }

  /** The refund held for `key`, for a decision on that key to carry; undefined when none is. */
  claim(key: string): ClaimedRefund | undefined {
    const entry = this.held.get(key);
    if (entry === undefined) return undefined;
    this.held.delete(key);
    return { amount: entry.amount, done: (error?: unknown) => report(entry.waiters, error) };
  }

  private readonly release = (): void => {
    this.timer = undefined;
    const unclaimed = this.held;
    this.held = new Map();
    for (const [key, entry] of unclaimed) {
      this.send(key, entry.amount).then(() => report(entry.waiters), (error: unknown) => report(entry.waiters, error));
    }
  };
}
