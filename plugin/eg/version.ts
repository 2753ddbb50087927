// plugin/eg/version.ts
// Every file in plugin/eg/ relies on Express Gateway 1.16's private shapes (module paths, log
// messages, the order it builds things in). A different EG is refused at start-up rather than
// half-working: each patch also checks the shape it touches, this names the cause first.

const SUPPORTED = /^1\.16\./;

export function assertSupportedExpressGateway(): void {
  const { version } = require('express-gateway/package.json') as { version?: unknown };
  if (typeof version !== 'string' || !SUPPORTED.test(version)) {
    throw new Error(`express-gateway ${String(version)} is installed; this plugin supports express-gateway 1.16 (it relies on its internals, see plugin/eg/)`);
  }
}
