// plugin/llm/answer-tap.ts
// Reads a JSON (not streamed) answer as it passes, for its usage and, when it has none, the size
// of its content: only its first and last bytes are kept, so any answer costs bounded memory and a
// bounded scan.

import { usageInJsonAnswer, type Usage } from './usage';

const KEPT_BYTES = 16 * 1024;

export class AnswerTap {
  private head = '';
  private tail = '';
  private bytes = 0;

  pass(chunk: Buffer): Buffer {
    this.bytes += chunk.length;
    const text = chunk.toString('utf8');
    if (this.head.length < KEPT_BYTES) this.head += text.slice(0, KEPT_BYTES - this.head.length);
    this.tail = (this.tail + text).slice(-KEPT_BYTES);
    return chunk;
  }

  /** The usage the answer reports, if any. */
  usage(): Usage | undefined {
    return usageInJsonAnswer(this.head, this.tail);
  }

  /**
   * Bytes of the answer's message content, for an answer that reports no usage: read from the
   * answer when it was small enough to keep whole, else the whole answer's size (an upper bound).
   */
  contentBytes(): number {
    if (this.bytes > KEPT_BYTES) return this.bytes;
    try {
      const choices = (JSON.parse(this.head) as { choices?: unknown }).choices;
      if (!Array.isArray(choices)) return 0;
      return choices.reduce((sum: number, choice: unknown) => {
        const content = (choice as { message?: { content?: unknown } } | null)?.message?.content;
        return sum + (typeof content === 'string' ? Buffer.byteLength(content, 'utf8') : 0);
      }, 0);
    } catch {
      return this.bytes;
    }
  }
}
