// plugin/llm/answer-tap.ts
// Reads a JSON (not streamed) answer as it passes, for its usage and, when it has none, the size
// of its content: only its first and last bytes are kept, so any answer costs bounded memory and a
// bounded scan. Chunks are kept as the Buffers they came in and decoded once, when the exchange is
// settled: an answer of one chunk (the usual case) is neither copied nor decoded on its way.

import { usageInJsonAnswer, type Usage } from './usage';

const KEPT_BYTES = 16 * 1024;

export class AnswerTap {
  /** The first chunks, up to KEPT_BYTES. */
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  /** The latest chunks: at least the last KEPT_BYTES of the answer once it is that long. */
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private bytes = 0;

  pass(chunk: Buffer): Buffer {
    this.bytes += chunk.length;
    if (this.headBytes < KEPT_BYTES) {
      this.head.push(chunk);
      this.headBytes += chunk.length;
    }
    this.tail.push(chunk);
    this.tailBytes += chunk.length;
    // Drop whole chunks the last KEPT_BYTES no longer need: the tail holds at most one chunk more.
    while (this.tail.length > 1 && this.tailBytes - (this.tail[0] as Buffer).length >= KEPT_BYTES) {
      this.tailBytes -= (this.tail.shift() as Buffer).length;
    }
    return chunk;
  }

  /** The usage the answer reports, if any. */
  usage(): Usage | undefined {
    if (this.bytes <= KEPT_BYTES) {
      // The whole answer is kept: head and tail are the same bytes.
      const whole = this.text(this.head, 0, this.bytes);
      return usageInJsonAnswer(whole, whole);
    }
    return usageInJsonAnswer(this.text(this.head, 0, KEPT_BYTES), this.text(this.tail, this.tailBytes - KEPT_BYTES, KEPT_BYTES));
  }

  /**
   * Bytes of the answer's message content, for an answer that reports no usage: read from the
   * answer when it was small enough to keep whole, else the whole answer's size (an upper bound).
   */
  contentBytes(): number {
    if (this.bytes > KEPT_BYTES) return this.bytes;
    try {
      const choices = (JSON.parse(this.text(this.head, 0, this.bytes)) as { choices?: unknown }).choices;
      if (!Array.isArray(choices)) return 0;
      return choices.reduce((sum: number, choice: unknown) => {
        const content = (choice as { message?: { content?: unknown } } | null)?.message?.content;
        return sum + (typeof content === 'string' ? Buffer.byteLength(content, 'utf8') : 0);
      }, 0);
    } catch {
      return this.bytes;
    }
  }

  /** `length` bytes of `chunks` from `offset`, as text (a character cut at either end decodes as U+FFFD). */
  private text(chunks: readonly Buffer[], offset: number, length: number): string {
    const only = chunks.length === 1 ? chunks[0] : undefined;
    const bytes = only ?? Buffer.concat(chunks as Buffer[]);
    return bytes.toString('utf8', offset, offset + length);
  }
}
