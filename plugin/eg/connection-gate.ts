// plugin/eg/connection-gate.ts
// Node's `server.maxConnections` closes a connection over the cap without a word (and without a
// chance to answer). To refuse with an HTTP answer instead, the server's own 'connection'
// listener (Node's HTTP connection handler, or TLS's handshake) is taken off and called only
// for connections under the cap. This moves Node's listener: it checks that the server has the
// listeners Node gives every HTTP(S) server, and refuses to start otherwise.

import type { Server } from 'node:http';
import type { Socket } from 'node:net';

interface GateHooks {
  /** The cap, read at every connection so that it can change at a config reload. */
  readonly cap: () => number;
  /** Answers a connection over the cap; Node's handler never sees it. */
  readonly refuse: (socket: Socket) => void;
  /** Called for each admitted connection, and again when it closes. */
  readonly opened: () => void;
  readonly closed: () => void;
}

/** Hands Node's handler only the connections under the cap. */
export function gateConnections(server: Server, hooks: GateHooks): void {
  const handlers = server.listeners('connection') as Array<(socket: Socket) => void>;
  if (handlers.length === 0) throw new Error("the gateway's server has no 'connection' listener: Node's HTTP server shape is not the expected one");
  server.removeAllListeners('connection');
  let open = 0;
  server.on('connection', function admitUnderCap(this: Server, socket: Socket) {
    if (open >= hooks.cap()) {
      hooks.refuse(socket);
      return;
    }
    open += 1;
    hooks.opened();
    socket.once('close', () => { open -= 1; hooks.closed(); });
    for (const handler of handlers) handler.call(this, socket);
  });
}
