// bench/lib/profile-summary.ts
// Reads a .cpuprofile and names where the gateway spends its CPU: top functions by self time and
// the same summed per file (plugin files, express-gateway, express, node internals).

import fs from 'node:fs';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples?: number[] }

export interface ProfileSummary {
  readonly totalMs: number;
  /** `caller`: the JS frame that spent most of this function's self time (natives name no file). */
  readonly topFunctions: Array<{ fn: string; where: string; selfMs: number; pct: number; caller: string }>;
  readonly topFiles: Array<{ file: string; selfMs: number; pct: number }>;
}

const shorten = (url: string): string => url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, 'node_modules/').replace(/^.*\/dist\//, 'dist/') || '(native/vm)';

export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const totalSamples = profile.nodes.reduce((sum, n) => sum + (n.hitCount ?? 0), 0) || 1;
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const msPerSample = totalMs / totalSamples;
  const parentOf = new Map<number, ProfileNode>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node);
  const frameName = (node: ProfileNode): string => `${node.callFrame.functionName || '(anonymous)'} ${shorten(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
  /** First ancestor with a file of its own (skips natives and anonymous node internals). */
  const callerOf = (node: ProfileNode): string => {
    let parent = parentOf.get(node.id);
    for (let depth = 0; parent && depth < 8; depth += 1, parent = parentOf.get(parent.id)) {
      if (parent.callFrame.url && !parent.callFrame.url.startsWith('node:')) return frameName(parent);
    }
    return parent ? frameName(parent) : '(root)';
  };
  const byFn = new Map<string, { fn: string; where: string; hits: number; callers: Map<string, number> }>();
  const byFile = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (!hits) continue;
    const where = `${shorten(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
    const fn = node.callFrame.functionName || '(anonymous)';
    const key = `${fn}@${where}`;
    const entry = byFn.get(key) ?? { fn, where, hits: 0, callers: new Map<string, number>() };
    entry.hits += hits;
    const caller = callerOf(node);
    entry.callers.set(caller, (entry.callers.get(caller) ?? 0) + hits);
    byFn.set(key, entry);
    const fileKey = shorten(node.callFrame.url).replace(/^(node_modules\/(@[^/]+\/)?[^/]+).*$/, '$1') || fn;
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + hits);
  }
  const pct = (hits: number): number => Math.round((hits / totalSamples) * 1000) / 10;
  return {
    totalMs,
    topFunctions: [...byFn.values()].sort((a, b) => b.hits - a.hits).slice(0, top)
      .map((e) => ({
        fn: e.fn, where: e.where, selfMs: Math.round(e.hits * msPerSample), pct: pct(e.hits),
        caller: [...e.callers.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '',
      })),
    topFiles: [...byFile.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([fileName, hits]) => ({ file: fileName, selfMs: Math.round(hits * msPerSample), pct: pct(hits) })),
  };
}
