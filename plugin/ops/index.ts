// plugin/ops/index.ts
// Installs the operations side once per process: the ops listener, the request observer on EG's
// servers, the reload guard and the signal handlers, and the guard on EG's admin API. Called from
// the manifest's `init`, which EG repeats on every reload; only the first call does anything.

import type { Server } from 'node:http';
import { assertAdminOnLoopback, redactAdminAnswers } from '../eg/admin-api';
import type { PluginContext } from '../eg/types';
import { opsAddressFromEnv, startOpsServer } from './ops-server';
import { observeRequests } from './request-observer';
import { installReloadGuard } from './reload-guard';
import { installSignalHandlers, trackServer } from './shutdown';
import { opsState } from './state';

export function installOps(context: PluginContext, closeResources: () => Promise<void>): void {
  if (opsState.installed) return;
  // Both throw naming the setting: EG then fails to load the plugin and start-up stops on it.
  assertAdminOnLoopback(context.config.gatewayConfig);
  const opsAddress = opsAddressFromEnv(process.env);
  opsState.installed = true;
  trackServer(startOpsServer(context.config, opsAddress));
  for (const event of ['http-ready', 'https-ready']) {
    context.eventBus.on(event, ({ httpServer }: { httpServer: Server }) => {
      trackServer(httpServer);
      observeRequests(httpServer);
      // The pipelines are built and the server listens: from here on, loads are reloads.
      installReloadGuard(context.config);
    });
  }
  context.eventBus.on('admin-ready', ({ adminServer }: { adminServer: Server }) => {
    trackServer(adminServer);
    redactAdminAnswers(adminServer);
  });
  installSignalHandlers(context.config, context.eventBus, closeResources);
}
