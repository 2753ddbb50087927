// plugin/http/fd-limit.ts
// The process's limit on open file descriptors, from which the public listener's connection cap
// is derived. Node has no API for RLIMIT_NOFILE; on Linux /proc tells it (Node itself raises the
// soft limit to the hard one at start-up, so this is what the process really has).

import fs from 'node:fs';

/** Assumed where /proc is not there to ask: the common default soft limit. */
const ASSUMED_FD_LIMIT = 1024;

export function openFileLimit(): number {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft === 'unlimited') return Number.MAX_SAFE_INTEGER;
    const value = Number(soft);
    return Number.isInteger(value) && value > 0 ? value : ASSUMED_FD_LIMIT;
  } catch {
    return ASSUMED_FD_LIMIT;
  }
}
