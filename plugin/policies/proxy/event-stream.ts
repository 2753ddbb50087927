// plugin/policies/proxy/event-stream.ts
// What the proxy needs to know about server-sent events: whether an answer is one, and how to end
// one with a last `{"detail"}` event that arrives whole even when the provider stopped mid-event.

import { MESSAGES } from '../../messages';

const EVENT_STREAM = 'text/event-stream';

export function isEventStream(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.trimStart().toLowerCase().startsWith(EVENT_STREAM);
}

/** The last (at most) 4 bytes of what has been forwarded so far. */
export function lastBytes(previous: Buffer, chunk: Buffer): Buffer {
  if (chunk.length >= 4) return Buffer.from(chunk.subarray(chunk.length - 4));
  const joined = Buffer.concat([previous, chunk]);
  return Buffer.from(joined.subarray(Math.max(0, joined.length - 4)));
}

/** True at the start of the stream or right after an event's terminating blank line. */
function endsAnEvent(tail: Buffer): boolean {
  if (tail.length === 0) return true;
  const text = tail.toString('latin1');
  return text.endsWith('\n\n') || text.endsWith('\r\r') || text.endsWith('\r\n\r\n') || text.endsWith('\n\r\n');
}

/** The stream's last event; a blank line first if the provider stopped inside an event. */
export function lastDetailEvent(tail: Buffer): string {
  return `${endsAnEvent(tail) ? '' : '\n\n'}data: ${JSON.stringify({ detail: MESSAGES.internalError })}\n\n`;
}
