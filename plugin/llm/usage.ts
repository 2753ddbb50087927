// plugin/llm/usage.ts
// What an OpenAI-compatible provider reports as used: `usage: { prompt_tokens,
// completion_tokens, total_tokens }` at the end of a JSON answer, or in the last chunk of a
// stream asked for it with `stream_options.include_usage` (a chunk with `"choices": []`).

export interface Usage {
  readonly prompt: number;
  readonly completion: number;
  readonly total: number;
}

const count = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined);

/** The usage object's counts; undefined when it is not one (null, as on every other stream chunk). */
export function usageOf(value: unknown): Usage | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const prompt = count(record['prompt_tokens']);
  const completion = count(record['completion_tokens']);
  const total = count(record['total_tokens']);
  if (prompt === undefined && completion === undefined && total === undefined) return undefined;
  return { prompt: prompt ?? 0, completion: completion ?? 0, total: total ?? (prompt ?? 0) + (completion ?? 0) };
}

/**
 * The usage in a JSON answer, found without parsing the whole body: the `"usage"` object is read
 * from the answer's last bytes (where OpenAI-style answers put it), or its first ones. A hostile
 * provider's megabyte answer costs a scan of `tail`, never a parse of the whole.
 */
export function usageInJsonAnswer(head: string, tail: string): Usage | undefined {
  for (const text of [tail, head]) {
    const at = text.lastIndexOf('"usage"');
    if (at === -1) continue;
    const open = text.indexOf('{', at);
    if (open === -1) continue;
    let depth = 0;
    for (let i = open; i < text.length; i += 1) {
      const char = text[i];
      if (char === '{') depth += 1;
      else if (char === '}' && (depth -= 1) === 0) {
        try {
          return usageOf(JSON.parse(text.slice(open, i + 1)) as unknown);
        } catch {
          break;
        }
      }
    }
  }
  return undefined;
}
