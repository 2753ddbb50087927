// plugin/eg/socket-response.ts
// Node answers some requests itself, without a 'request' event (no Host header, an unknown
// Expect), and links the response it is writing to the connection as `socket._httpMessage`, an
// internal field with no public equivalent. The clientError handler reads it to tell whether the
// bytes the parser chokes on already have an answer.

import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

interface SocketWithResponse extends Socket {
  _httpMessage?: ServerResponse | null;
}

/** True when Node has started writing a response on this connection that no handler saw. */
export function nodeIsAnswering(socket: Socket): boolean {
  return (socket as SocketWithResponse)._httpMessage?.headersSent === true;
}
