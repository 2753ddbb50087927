// plugin/logger.ts
// One asynchronous JSON logger for the process: a synchronous write per request costs a large
// share of throughput on 2 cores (see the EG notes). Level from LOG_LEVEL, EG's own variable, so
// one setting governs both loggers.

import pino from 'pino';

const EG_TO_PINO_LEVEL: Readonly<Record<string, string>> = { verbose: 'debug', silly: 'trace' };

function levelFromEnv(): string {
  const requested = (process.env['LOG_LEVEL'] ?? 'info').toLowerCase();
  return EG_TO_PINO_LEVEL[requested] ?? requested;
}

export const logger = pino(
  {
    name: 'llm-gateway',
    level: levelFromEnv(),
    base: { pid: process.pid },
    // Defence in depth: nothing should log these, and if something does they are blanked.
    redact: { paths: ['*.headers["x-api-key"]', '*.headers.authorization', '*.headers.cookie', 'key', 'apiKey'], censor: '[redacted]' },
  },
  pino.destination({ dest: 1, sync: false }),
);

export type Logger = typeof logger;
