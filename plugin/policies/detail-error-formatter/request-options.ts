// plugin/policies/detail-error-formatter/request-options.ts
// The formatter step's options travel on the response object, so that code running after the
// pipeline (the app-level error handler, the response rewriter) formats as that step asked.

import type { ServerResponse } from 'node:http';
import { DEFAULTS, type DetailErrorFormatterOptions } from './options';

const FORMATTER_OPTIONS = Symbol('llm-gateway.formatterOptions');

type ResponseWithOptions = ServerResponse & { [FORMATTER_OPTIONS]?: DetailErrorFormatterOptions };

export function attachFormatterOptions(res: ServerResponse, options: DetailErrorFormatterOptions): void {
  (res as ResponseWithOptions)[FORMATTER_OPTIONS] = options;
}

/** The options of the formatter step this response went through, if any. */
export function attachedFormatterOptions(res: ServerResponse): DetailErrorFormatterOptions | undefined {
  return (res as ResponseWithOptions)[FORMATTER_OPTIONS];
}

export function formatterOptionsOf(res: ServerResponse): DetailErrorFormatterOptions {
  return attachedFormatterOptions(res) ?? DEFAULTS;
}
