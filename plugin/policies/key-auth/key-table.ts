// plugin/policies/key-auth/key-table.ts
// Turns key entries into the lookup table a request uses: a Map from the hex SHA-256 of a key to
// what the gateway knows about it. All parsing (hashing plain keys, reading expiry dates,
// checking for duplicates) happens here, once per config load, so a request costs one hash and
// one Map lookup whatever the number of keys.

import { createHash } from 'node:crypto';
import type { KeyIdentity, RateLimitPlan } from '../../identity';
import type { KeyEntryInput } from './options';

export interface KeyRecord {
  /** Where the entry was declared, e.g. `keys[2]` or `keysFile[17]`: for error messages. */
  readonly origin: string;
  readonly id: string;
  /** Hex SHA-256 of the key, lower case. Lives only in this table: never logged or labelled. */
  readonly hash: string;
  readonly disabled: boolean;
  /** Epoch ms after which the key is refused; Infinity for never. */
  readonly expiresAtMs: number;
  /** apiEndpoint names allowed; undefined for all. */
  readonly apiEndpoints: ReadonlySet<string> | undefined;
  /** Models the key may ask for; undefined for any. */
  readonly models: ReadonlySet<string> | undefined;
  /** The identity handed to later policies, built once so a request allocates nothing. */
  readonly identity: KeyIdentity;
  /** The same, naming the key id for metric labels (key-auth's `metricKeyIds`). */
  readonly labelledIdentity: KeyIdentity;
}

export type KeyTable = ReadonlyMap<string, KeyRecord>;

export function sha256Hex(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

// A full ISO 8601 calendar date, optionally with a time and zone: `Date.parse` alone also accepts
// forms like "March 7" whose meaning depends on the machine's locale and zone.
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

function parseExpiry(origin: string, entry: KeyEntryInput): number {
  const value = entry.expiresAt;
  if (value === undefined) return Number.POSITIVE_INFINITY;
  // An unquoted YAML date reaches us already parsed (js-yaml); a string is checked here.
  const ms = value instanceof Date ? value.getTime() : (ISO_8601.test(value) ? Date.parse(value) : Number.NaN);
  if (Number.isNaN(ms)) {
    throw new Error(`key-auth: ${origin} (id "${entry.id}"): expiresAt "${String(value)}" is not an ISO 8601 date`);
  }
  return ms;
}

function planOf(plan: RateLimitPlan): RateLimitPlan {
  const { capacity, refillRate, llmTokens } = plan;
  return Object.freeze(llmTokens === undefined
    ? { capacity, refillRate }
    : { capacity, refillRate, llmTokens: Object.freeze({ capacity: llmTokens.capacity, refillRate: llmTokens.refillRate }) });
}

/**
 * Prepares entries already checked against the entry schema. `label` names their source
 * (`keys`, `keysFile`) in error messages. Throws on a bad expiry date.
 */
export function prepareEntries(entries: readonly KeyEntryInput[], label: string): KeyRecord[] {
  return entries.map((entry, index) => {
    const origin = `${label}[${index}]`;
    const hash = entry.sha256 !== undefined ? entry.sha256.toLowerCase() : sha256Hex(String(entry.key));
    const identity: KeyIdentity = Object.freeze(entry.rateLimit === undefined
      ? { type: 'api-key' as const, id: entry.id }
      : { type: 'api-key' as const, id: entry.id, rateLimit: planOf(entry.rateLimit) });
    return Object.freeze({
      origin,
      id: entry.id,
      hash,
      disabled: entry.disabled === true,
      expiresAtMs: parseExpiry(origin, entry),
      apiEndpoints: entry.apiEndpoints === undefined ? undefined : new Set(entry.apiEndpoints),
      models: entry.models === undefined ? undefined : new Set(entry.models),
      identity,
      labelledIdentity: Object.freeze({ ...identity, metricKeyId: entry.id }),
    });
  });
}

/**
 * Builds the lookup table from every source. Duplicate ids or duplicate keys are a config error:
 * the message names the entries by origin and id, never by key or hash.
 */
export function buildTable(...groups: ReadonlyArray<readonly KeyRecord[]>): KeyTable {
  const byHash = new Map<string, KeyRecord>();
  const byId = new Map<string, KeyRecord>();
  const problems: string[] = [];
  for (const records of groups) {
    for (const record of records) {
      const sameId = byId.get(record.id);
      if (sameId !== undefined) problems.push(`duplicate id "${record.id}" in ${sameId.origin} and ${record.origin}`);
      else byId.set(record.id, record);
      const sameKey = byHash.get(record.hash);
      if (sameKey !== undefined) problems.push(`duplicate key in ${sameKey.origin} (id "${sameKey.id}") and ${record.origin} (id "${record.id}")`);
      else byHash.set(record.hash, record);
      if (problems.length >= 10) break;
    }
  }
  if (problems.length > 0) throw new Error(`key-auth: ${problems.join('; ')}`);
  return byHash;
}
