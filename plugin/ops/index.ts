// plugin/ops/index.ts
// Installs the operations side once per process: admin routes, the request observer on EG's
// servers, the reload guard and the signal handlers. Called from the manifest's `init`, which EG
// repeats on every reload; only the first call does anything.

import type { Server } from 'node:http';
import type { PluginContext } from '../eg-types';
import { declareAdminRoutes } from './admin-routes';
import { observeRequests } from './request-observer';
import { installReloadGuard } from './reload-guard';
import { installSignalHandlers, trackServer } from './shutdown';
import { opsState } from './state';

export function installOps(context: PluginContext): void {
  if (opsState.installed) return;
  opsState.installed = true;
  context.registerAdminRoute(declareAdminRoutes);
  for (const event of ['http-ready', 'https-ready']) {
    context.eventBus.on(event, ({ httpServer }: { httpServer: Server }) => {
      trackServer(httpServer);
      observeRequests(httpServer);
      // The pipelines are built and the server listens: from here on, loads are reloads.
      installReloadGuard(context.config);
    });
  }
  context.eventBus.on('admin-ready', ({ adminServer }: { adminServer: Server }) => { trackServer(adminServer); });
  installSignalHandlers(context.config);
}
