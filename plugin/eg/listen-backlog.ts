// plugin/eg/listen-backlog.ts
// EG's gateway server listens with `server.listen(port, hostname, callback)` (lib/gateway/server.js),
// which leaves Node's accept queue at its default of 511. A gateway holding thousands of streams
// accepts new connections slowly, and once the queue is full the kernel drops handshakes (clients
// see resets), so the call is wrapped to pass a backlog too. Any other call shape (a later EG) is
// passed on untouched: the server still listens, with Node's default queue.

import type { Server } from 'node:http';

export function listenWithBacklog(server: Server, backlog: number): void {
  const listen = server.listen;
  server.listen = function listenWithBacklog(this: Server, ...args: unknown[]) {
    const [port, host, callback] = args;
    const portNumber = typeof port === 'number' || typeof port === 'string' ? Number(port) : Number.NaN;
    if (args.length === 3 && Number.isInteger(portNumber) && typeof host === 'string' && typeof callback === 'function') {
      return listen.call(this, { port: portNumber, host, backlog }, callback as () => void);
    }
    return (listen as (...a: unknown[]) => Server).apply(this, args);
  } as typeof server.listen;
}
