// testkit/chat-completions.ts
// The bodies the stand-in provider answers with, in one place: an OpenAI-style chat completion
// and the server-sent event frames of a stream.

/** OpenAI's token accounting of one exchange. */
export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

export interface CompletionOptions {
  /** The assistant's message (default `hello`). */
  readonly content?: string;
  /** Echoed as `model` (default `stand-in`). */
  readonly model?: string;
  /** Sent as `usage` when given. */
  readonly usage?: Usage;
}

/** A `chat.completion` body with one choice. */
export function chatCompletion(options: CompletionOptions = {}): string {
  return JSON.stringify({
    id: 'chatcmpl-stand-in', object: 'chat.completion', created: 1, model: options.model ?? 'stand-in',
    choices: [{ index: 0, message: { role: 'assistant', content: options.content ?? 'hello' }, finish_reason: 'stop' }],
    ...(options.usage === undefined ? {} : { usage: options.usage }),
  });
}

/** One server-sent event carrying `data`. */
export const eventFrame = (data: string): string => `data: ${data}\n\n`;

/** The event that ends an OpenAI-style stream. */
export const DONE_FRAME = eventFrame('[DONE]');

/** Whether a request body asks for a streamed answer (`"stream": true`). */
export function asksForStream(body: string): boolean {
  try {
    return (JSON.parse(body) as { stream?: unknown }).stream === true;
  } catch {
    return false;
  }
}
