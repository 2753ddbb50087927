// plugin/http/secrets.ts
// The secrets of the loaded config (the provider key, plain client keys), so that text the gateway
// passes on from the provider never carries one. Policy factories register what their config
// holds; the matcher is rebuilt when that changes, never per request. A secret lives as long as
// its owner (a policy instance, a keysFile source): EG drops the old policy instances after a
// reload, and once they are collected their secrets stop being looked for, while in-flight
// requests of the old router are still covered.

import { REDACTED } from '../messages';

interface Matcher {
  /** Secrets grouped by length, longest first, so that a secret containing another wins. */
  readonly byLength: ReadonlyArray<readonly [number, ReadonlySet<string>]>;
  /** First characters of all secrets: most positions of a text are rejected with one lookup. */
  readonly firstChars: ReadonlySet<string>;
}

const EMPTY: Matcher = Object.freeze({ byLength: [], firstChars: new Set<string>() });

const secretsOf = new Map<number, readonly string[]>();
const tokenOf = new WeakMap<object, number>();
let nextToken = 0;
let matcher: Matcher = EMPTY;

const released = new FinalizationRegistry<number>((token) => {
  secretsOf.delete(token);
  rebuild();
});

function rebuild(): void {
  const byLength = new Map<number, Set<string>>();
  const firstChars = new Set<string>();
  for (const secrets of secretsOf.values()) {
    for (const secret of secrets) {
      let group = byLength.get(secret.length);
      if (group === undefined) byLength.set(secret.length, (group = new Set()));
      group.add(secret);
      firstChars.add(secret.charAt(0));
    }
  }
  matcher = byLength.size === 0 ? EMPTY : { byLength: [...byLength].sort((a, b) => b[0] - a[0]), firstChars };
}

/**
 * Declares the secrets `owner` holds, replacing what it declared before. Empty strings are
 * ignored. Call it when a config is loaded, not per request: it rebuilds the matcher.
 */
export function registerSecrets(owner: object, secrets: Iterable<string>): void {
  const list = [...new Set(secrets)].filter((secret) => secret !== '');
  let token = tokenOf.get(owner);
  if (token === undefined) {
    if (list.length === 0) return;
    token = nextToken;
    nextToken += 1;
    tokenOf.set(owner, token);
    released.register(owner, token);
  }
  secretsOf.set(token, list);
  rebuild();
}

/**
 * `text` with every registered secret replaced by REDACTED, cut to at most `maxChars` characters
 * plus an ellipsis. The two are one pass: every position before the cut is checked against the
 * whole text, so a secret that straddles the cut is replaced, never left half.
 */
export function redactSecrets(text: string, maxChars: number): string {
  const { byLength, firstChars } = matcher;
  let out = '';
  let plainFrom = 0;
  let i = 0;
  while (i < text.length && out.length + (i - plainFrom) < maxChars) {
    let matched = 0;
    if (firstChars.has(text.charAt(i))) {
      for (const [length, group] of byLength) {
        if (i + length <= text.length && group.has(text.slice(i, i + length))) { matched = length; break; }
      }
    }
    if (matched === 0) {
      i += 1;
      continue;
    }
    out += text.slice(plainFrom, i) + REDACTED;
    i += matched;
    plainFrom = i;
  }
  out += text.slice(plainFrom, i);
  if (i >= text.length && out.length <= maxChars) return out;
  let cut = out.slice(0, maxChars);
  // Do not end on half of a surrogate pair: it would leave the JSON body an unpaired escape.
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${cut}…`;
}
