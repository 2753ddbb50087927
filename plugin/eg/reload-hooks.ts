// plugin/eg/reload-hooks.ts
// Where EG's hot reload can be watched and stopped. EG's watcher (and our SIGHUP) call
// `config.loadConfig(type)` and then emit 'hot-reload'; EG's listener rebuilds the pipelines and
// says how that ended only in its own winston log lines ('hot-reload config completed', 'Could not
// hot-reload ...'). Both are wrapped here, on the one config singleton.

import type { EgConfig } from './types';

type LoadConfig = EgConfig['loadConfig'];
interface WinstonLogger { error: (...args: unknown[]) => unknown; info: (...args: unknown[]) => unknown }

/** EG's messages for the two outcomes of a pipeline rebuild (lib/gateway/index.js). */
const APPLIED_MESSAGE = 'hot-reload config completed';
const FAILED_PREFIX = 'Could not hot-reload';

/**
 * EG parses the config files with js-yaml after substituting the environment into them, and
 * js-yaml ends its messages with the source lines around the error ("... at line 5, column 3:"
 * then the lines): a key there, inline or from the environment, would be copied into the log.
 * This keeps the message up to the position and drops the excerpt.
 */
export function withoutSourceExcerpt(message: string): string {
  return message.replace(/( at line \d+, column \d+):?\n[\s\S]*$/, '$1');
}

/** Replaces `config.loadConfig` by `wrapper(original, type)`. */
export function wrapLoadConfig(config: EgConfig, wrapper: (original: LoadConfig, type: Parameters<LoadConfig>[0]) => void): void {
  if (typeof config.loadConfig !== 'function') throw new Error("EG's config has no loadConfig(): this plugin supports express-gateway 1.16");
  const original = config.loadConfig.bind(config);
  config.loadConfig = (type) => wrapper(original, type);
}

interface RebuildOutcome {
  readonly applied: () => void;
  readonly failed: (message: string) => void;
}

/** Calls `outcome` when EG reports the end of a pipeline rebuild. */
export function onPipelineRebuild(outcome: RebuildOutcome): void {
  const egLog = (require('express-gateway/lib/logger') as { gateway?: Partial<WinstonLogger> }).gateway;
  if (typeof egLog?.error !== 'function' || typeof egLog.info !== 'function') {
    throw new Error("EG's gateway logger has no error()/info(): this plugin supports express-gateway 1.16");
  }
  const logger = egLog as WinstonLogger;
  const egError = logger.error.bind(logger);
  const egInfo = logger.info.bind(logger);
  logger.error = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith(FAILED_PREFIX)) outcome.failed(args[0]);
    return egError(...args);
  };
  logger.info = (...args: unknown[]) => {
    if (args[0] === APPLIED_MESSAGE) outcome.applied();
    return egInfo(...args);
  };
}

/** EG's event bus, where 'hot-reload' starts a rebuild. */
export function egEventBus(): import('node:events').EventEmitter {
  return require('express-gateway/lib/eventBus') as import('node:events').EventEmitter;
}
