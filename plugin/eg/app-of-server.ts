// plugin/eg/app-of-server.ts
// EG creates its Express apps itself and hands the plugin only their servers ('http-ready',
// 'admin-ready'). The app is the server's first 'request' listener: EG passes it to
// `http.createServer(app)` (lib/gateway/server.js, lib/rest/index.js).

import type { Server } from 'node:http';
import type { Application } from 'express';

/** The Express app behind a server EG created; undefined when its first listener is not one. */
export function appOfServer(server: Server): Application | undefined {
  const listener = server.listeners('request')[0];
  return typeof listener === 'function' && 'use' in listener && 'response' in listener ? (listener as unknown as Application) : undefined;
}
