// plugin/eg/winston-json.ts
// EG logs through its own winston loggers (lib/logger.js): colourised text on the console, between
// our JSON lines, which a log shipper cannot parse. This takes each of them off the console and
// hands every entry to our pino logger, so stdout is one stream of JSON lines with one level
// setting (pino's, from LOG_LEVEL). It must run before EG logs anything (plugin/cli/start.ts does
// it first; runtime.ts again for a gateway started some other way) and refuses to start when EG's
// loggers are not the winston 3 instances this was written against.

import { Writable } from 'node:stream';
import { format } from 'node:util';
import type { Logger as PinoLogger } from 'pino';
import { logger, pinoLevelOf } from '../logger';
import { withoutSourceExcerpt } from './reload-hooks';

const EG_LOGGER_MODULE = 'express-gateway/lib/logger';
/** The loggers EG's modules take from lib/logger.js, by their key there. */
const EG_LOGGER_NAMES = ['gateway', 'policy', 'config', 'db', 'admin', 'plugins'] as const;

/** winston keeps printf-style arguments under this symbol (triple-beam's SPLAT). */
const SPLAT = Symbol.for('splat');
/** EG colours names in its messages with chalk when stdout is a terminal. */
const ANSI_ESCAPE = /\u001b\[[0-9;]*[A-Za-z]/g;

interface WinstonInfo { level?: unknown; message?: unknown; stack?: unknown; [SPLAT]?: unknown }
interface WinstonLogger {
  clear(): unknown;
  add(transport: Writable): unknown;
  format: unknown;
}
interface EgLoggerModule extends Record<string, unknown> {
  createLoggerWithLabel(label: string): unknown;
}

const isWinstonLogger = (value: unknown): value is WinstonLogger =>
  typeof value === 'object' && value !== null && typeof (value as WinstonLogger).clear === 'function'
  && typeof (value as WinstonLogger).add === 'function' && 'format' in value;

/** The entry's text as EG's format (splat) would have printed it, without colour or a YAML source excerpt. */
function messageOf(info: WinstonInfo): string {
  const splat = Array.isArray(info[SPLAT]) ? (info[SPLAT] as unknown[]) : [];
  const text = typeof info.message === 'string' && /%[sdifjoO%]/.test(info.message) ? format(info.message, ...splat) : String(info.message ?? '');
  return withoutSourceExcerpt(text.replace(ANSI_ESCAPE, ''));
}

/** A winston transport (an object-mode stream with `log(info, next)`) writing to `target`. */
class PinoTransport extends Writable {
  constructor(private readonly target: PinoLogger) {
    super({ objectMode: true });
  }

  log(info: WinstonInfo, next: () => void): void {
    const level = pinoLevelOf(String(info.level)) ?? 'info';
    if (this.target.isLevelEnabled(level)) {
      const stack = typeof info.stack === 'string' ? { stack: info.stack.replace(ANSI_ESCAPE, '') } : {};
      this.target[level](stack, messageOf(info));
    }
    next();
  }

  override _write(info: WinstonInfo, _encoding: BufferEncoding, next: () => void): void {
    this.log(info, next);
  }
}

function reroute(winston: unknown, label: string): void {
  if (!isWinstonLogger(winston)) throw new Error(`EG's ${label} logger is not a winston 3 logger: cannot route EG's log lines to JSON (this plugin supports express-gateway 1.16)`);
  // EG's format colourises the level and prints text; entries now reach the transport as EG made them.
  winston.format = { transform: (info: unknown) => info };
  winston.clear();
  winston.add(new PinoTransport(logger.child({ eg: label })));
}

let installed = false;

/**
 * Sends every line of EG's loggers, those it has made and those its `log` policy makes later, to
 * our JSON logger. Throws at start-up when EG's logger module does not have the expected shape.
 */
export function routeEgLogsToJson(): void {
  if (installed) return;
  const module = require(EG_LOGGER_MODULE) as Partial<EgLoggerModule>;
  const create = module.createLoggerWithLabel;
  if (typeof create !== 'function') throw new Error(`${EG_LOGGER_MODULE}.createLoggerWithLabel is not a function: this plugin supports express-gateway 1.16`);
  for (const name of EG_LOGGER_NAMES) reroute(module[name], name);
  module.createLoggerWithLabel = function createJsonLogger(label: string) {
    const made = create.call(module, label);
    reroute(made, label.replace(/^\[EG:(.*)\]$/, '$1'));
    return made;
  };
  installed = true;
}
