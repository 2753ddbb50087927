// test/helpers/bucket-table.ts
// Request sequences with the answers a token bucket must give, whatever store holds it. Refill
// rates are tiny (or the waits long against them) so that test timing cannot change an answer.

export interface TableStep {
  /** Wait before sending, ms. */
  readonly waitMs?: number;
  readonly status: 200 | 429 | 403;
  /** Expected `r=` of the RateLimit field. */
  readonly remaining?: number;
}

export interface TableCase {
  readonly name: string;
  readonly action: Readonly<Record<string, unknown>>;
  readonly steps: readonly TableStep[];
}

export const BUCKET_TABLE: readonly TableCase[] = [
  {
    name: 'burst of capacity, then refusals',
    action: { capacity: 3, refillRate: 0.001 },
    steps: [{ status: 200, remaining: 2 }, { status: 200, remaining: 1 }, { status: 200, remaining: 0 }, { status: 429, remaining: 0 }, { status: 429, remaining: 0 }],
  },
  {
    name: 'cost 2 from a bucket of 5 leaves a remainder below the cost',
    action: { capacity: 5, refillRate: 0.001, cost: 2 },
    steps: [{ status: 200, remaining: 3 }, { status: 200, remaining: 1 }, { status: 429, remaining: 1 }],
  },
  {
    name: 'refill brings one token back after its interval',
    action: { capacity: 1, refillRate: 4 },
    steps: [{ status: 200, remaining: 0 }, { status: 429 }, { waitMs: 400, status: 200, remaining: 0 }, { status: 429 }],
  },
  {
    name: 'a refusal is no debt',
    action: { capacity: 2, refillRate: 2 },
    steps: [{ status: 200 }, { status: 200 }, { status: 429 }, { status: 429 }, { status: 429 }, { waitMs: 600, status: 200, remaining: 0 }],
  },
  {
    name: 'fractional cost',
    action: { capacity: 1, refillRate: 0.001, cost: 0.4 },
    steps: [{ status: 200, remaining: 0 }, { status: 200, remaining: 0 }, { status: 429, remaining: 0 }],
  },
  {
    name: 'cost above capacity can never pass',
    action: { capacity: 2, refillRate: 10, cost: 3 },
    steps: [{ status: 403 }, { waitMs: 300, status: 403 }],
  },
];
