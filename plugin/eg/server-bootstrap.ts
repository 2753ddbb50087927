// plugin/eg/server-bootstrap.ts
// EG creates its HTTP(S) servers in `lib/gateway/server.js` `bootstrap(app)` and calls `listen`
// right after. Some server settings only take effect before `listen` (Node reads
// `connectionsCheckingInterval` when the server starts listening), and EG's 'http-ready' event
// comes after it, so the plugin wraps `bootstrap` to see each server as soon as it exists.

import type { Server } from 'node:http';

interface EgServerModule {
  bootstrap(app: unknown): { httpServer: Server | null; httpsServer: Server | null };
}

type ServerCreated = (server: Server, kind: 'http' | 'https') => void;

const MODULE_ID = 'express-gateway/lib/gateway/server';
let wrapped = false;
const listeners: ServerCreated[] = [];

/**
 * Calls `onCreated` for every server EG creates from now on, before it listens. Throws at
 * start-up when EG's module does not have the shape this was written against (EG 1.16).
 */
export function onGatewayServerCreated(onCreated: ServerCreated): void {
  listeners.push(onCreated);
  if (wrapped) return;
  const serverModule = require(MODULE_ID) as Partial<EgServerModule>;
  const original = serverModule.bootstrap;
  if (typeof original !== 'function') {
    throw new Error(`${MODULE_ID}.bootstrap is not a function: this plugin supports express-gateway 1.16`);
  }
  wrapped = true;
  serverModule.bootstrap = function bootstrapWithServerSetup(app: unknown) {
    const servers = original.call(this, app);
    for (const [server, kind] of [[servers.httpServer, 'http'], [servers.httpsServer, 'https']] as const) {
      if (server) for (const listener of listeners) listener(server, kind);
    }
    return servers;
  };
}
