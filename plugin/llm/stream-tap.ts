// plugin/llm/stream-tap.ts
// Reads an OpenAI-style event stream as it passes: the usage chunk the gateway asked for on the
// client's behalf is kept from a client that did not ask for it, the content deltas forwarded are
// counted (what a stream cut short is charged by), and the last usage reported is kept. Only
// whole events are passed on; a partial one waits for its end (an event is one chunk, usually).

import { usageOf, type Usage } from './usage';

/** Longest event kept while waiting for its end: past it, the stream passes on unread. */
const MAX_EVENT_BYTES = 1024 * 1024;
const EVENT_END = /\r\n\r\n|\n\n|\r\r/g;

interface StreamChunk { choices?: unknown; usage?: unknown }

function contentBytes(choices: unknown): number {
  if (!Array.isArray(choices)) return 0;
  let bytes = 0;
  for (const choice of choices) {
    const content = (choice as { delta?: { content?: unknown } } | null)?.delta?.content;
    if (typeof content === 'string') bytes += Buffer.byteLength(content, 'utf8');
  }
  return bytes;
}

export class StreamTap {
  /** Bytes of content deltas passed on. */
  contentBytes = 0;
  usage: Usage | undefined;
  private pending = '';
  private unread = false;

  /** `dropUsageChunk`: the client did not ask for usage; the gateway did, for itself. */
  constructor(private readonly dropUsageChunk: boolean) {}

  /** What of `chunk` goes on to the client now. */
  pass(chunk: Buffer): Buffer {
    if (this.unread) return chunk;
    this.pending += chunk.toString('utf8');
    let out = '';
    let start = 0;
    for (const match of this.pending.matchAll(EVENT_END)) {
      const end = (match.index ?? 0) + match[0].length;
      const event = this.pending.slice(start, end);
      if (this.keep(event)) out += event;
      start = end;
    }
    this.pending = this.pending.slice(start);
    if (this.pending.length > MAX_EVENT_BYTES) {
      // Not an event stream this gateway understands: it goes on as it is, uncounted.
      out += this.pending;
      this.pending = '';
      this.unread = true;
    }
    return Buffer.from(out, 'utf8');
  }

  /** What is left when the stream ends: an unterminated last event goes on as it came. */
  flush(): Buffer {
    const rest = this.pending;
    this.pending = '';
    return Buffer.from(rest, 'utf8');
  }

  private keep(event: string): boolean {
    const data = event.split(/\r\n|\n|\r/).filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trimStart()).join('\n');
    if (data === '' || data === '[DONE]') return true;
    let parsed: StreamChunk;
    try {
      parsed = JSON.parse(data) as StreamChunk;
    } catch {
      return true;
    }
    const usage = usageOf(parsed.usage);
    if (usage !== undefined) this.usage = usage;
    this.contentBytes += contentBytes(parsed.choices);
    const usageOnly = usage !== undefined && Array.isArray(parsed.choices) && parsed.choices.length === 0;
    return !(usageOnly && this.dropUsageChunk);
  }
}
