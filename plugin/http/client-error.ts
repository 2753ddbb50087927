// plugin/http/client-error.ts
// Requests Node's HTTP parser rejects (malformed request line, bad Content-Length or chunk
// framing, headers over the limit) never reach Express: Node answers them on the socket with an
// empty 400. This answers them with the same `{"detail"}` body as everything else, and only when
// the request being parsed has no answer yet: a body whose framing breaks after its request was
// answered (a 401 sent before the body was read) must not get a second, unsolicited response.

import { STATUS_CODES, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { nodeIsAnswering } from '../eg/socket-response';
import { detailBody } from '../errors';
import { messageForStatus } from '../messages';
import { newestResponse, recordNewestResponse } from './exchange';

const serversWithClientErrors = new WeakSet<Server>();

function statusFor(error: NodeJS.ErrnoException): number {
  if (error.code === 'HPE_HEADER_OVERFLOW') return 431;
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

/**
 * True when a raw answer on the socket would not be the answer to the request being parsed:
 * that request already has a response started, or an earlier pipelined response is still being
 * written (writing now would interleave two responses).
 */
function answeredOrBusy(socket: Socket): boolean {
  // Node answers some requests itself without a `request` event (no Host header, an unknown
  // Expect): its response is still attached to the socket while the same chunk of bytes is parsed.
  if (nodeIsAnswering(socket)) return true;
  // The newest response of the connection tells whether the request the parser chokes on has one.
  const newest = newestResponse(socket);
  if (newest === undefined) return false;
  if (!newest.req.complete) return newest.headersSent;
  return !newest.writableFinished;
}

export function installClientErrorHandler(server: Server): void {
  if (serversWithClientErrors.has(server)) return;
  serversWithClientErrors.add(server);
  // Appended after EG's app, which stays the server's first `request` listener.
  server.on('request', (req, res: ServerResponse) => { recordNewestResponse(req.socket, res); });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable || answeredOrBusy(socket)) {
      socket.destroy();
      return;
    }
    const status = statusFor(error);
    const body = detailBody(messageForStatus(status));
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\n`
      + `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body.toString('utf8')}`);
  });
}
