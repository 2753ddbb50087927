// plugin/ops/state.ts
// Process-wide operations state: the servers EG started (for shutdown) and whether the last
// config load was applied. Module singletons, since EG runs `init` again on every reload.

import type { Server } from 'node:http';

export const opsState = {
  installed: false,
  configLoaded: true,
  servers: new Set<Server>(),
  shuttingDown: false,
};
