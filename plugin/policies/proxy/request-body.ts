// plugin/policies/proxy/request-body.ts
// The client's body on its way to the provider: streamed through, counted as it goes, never held
// whole; past the limit the exchange answers 413 and aborts what reached the provider.

import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayRequest } from '../../eg/types';
import { GatewayError, sendDetail } from '../../errors';
import { MESSAGES } from '../../messages';

interface BodyHandlers {
  readonly onTooLarge: () => void;
  readonly onError: (error: GatewayError) => void;
}

/** Streams the request body upstream, counting bytes; never holds more than a chunk. */
export function forwardBody(req: GatewayRequest, upstream: ClientRequest, maxBytes: number, handlers: BodyHandlers): void {
  const source = (req.egContext?.requestStream ?? req) as NodeJS.ReadableStream;
  let received = 0;
  const onData = (chunk: Buffer | string): void => {
    received += chunk.length;
    if (received > maxBytes) {
      source.removeListener('data', onData);
      handlers.onTooLarge();
      return;
    }
    if (!upstream.write(chunk)) source.pause();
  };
  upstream.on('drain', () => source.resume());
  source.on('data', onData);
  source.on('end', () => { if (received <= maxBytes) upstream.end(); });
  source.on('error', () => handlers.onError(new GatewayError(400, MESSAGES.badRequest)));
}

export function refuseLargeBody(req: IncomingMessage, res: ServerResponse): void {
  sendDetail(res, 413, MESSAGES.payloadTooLarge);
  // The rest of the body is read and dropped (the server's request timeout bounds it) rather than
  // cut off: a client still writing when the socket closes sees EPIPE instead of our 413.
  req.resume();
}
