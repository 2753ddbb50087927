// plugin/logger.ts
// One asynchronous JSON logger for the process: a synchronous write per request costs a large
// share of throughput on 2 cores (see the EG notes). Level from LOG_LEVEL, EG's own variable, so
// one setting governs both loggers (EG's lines come through this one: plugin/eg/winston-json.ts).

import pino, { type Level } from 'pino';
import { boundExitFlush } from './eg/log-flush';
import { REDACTED } from './messages';

/** winston's npm levels (EG's) on pino's: winston has no fatal, pino no http, verbose or silly. */
const WINSTON_TO_PINO_LEVEL: Readonly<Record<string, Level>> = {
  error: 'error', warn: 'warn', info: 'info', http: 'info', verbose: 'debug', debug: 'debug', silly: 'trace', fatal: 'fatal', trace: 'trace',
};

/** pino's level for a level name of either logger; undefined for a name neither knows. */
export function pinoLevelOf(name: string): Level | undefined {
  return WINSTON_TO_PINO_LEVEL[name.toLowerCase()];
}

function levelFromEnv(): string {
  const requested = process.env['LOG_LEVEL'] ?? 'info';
  // An unknown name is left for pino to refuse at start-up.
  return pinoLevelOf(requested) ?? requested.toLowerCase();
}

const destination = pino.destination({ dest: 1, sync: false });
// Without it, a process whose stdout reader went away cannot exit (see plugin/eg/log-flush.ts).
if (!boundExitFlush(destination)) process.emitWarning('llm-gateway: sonic-boom has another shape; the exit-time log flush is unbounded');
const common = { name: 'llm-gateway', level: levelFromEnv(), base: { pid: process.pid } };

export const logger = pino(
  {
    ...common,
    // Defence in depth: nothing should log these, and if something does they are blanked.
    redact: { paths: ['*.headers["x-api-key"]', '*.headers.authorization', '*.headers.cookie', 'key', 'apiKey'], censor: REDACTED },
  },
  destination,
);

/**
 * The per-request access line, on the same stream. Redaction costs 5 µs a line (2% of a proxied
 * request on the bench), and this line's fields are set one by one from values that hold no
 * secret, so it has nothing to redact. Flushing `logger` flushes this stream too.
 */
export const accessLogger = pino(common, destination);

