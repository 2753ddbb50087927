// plugin/policies/detail-error-formatter/request-options.ts
// The formatter step's options travel on the response object, so that code running after the
// pipeline (the app-level error handler, the response rewriter) formats as that step asked.

import type { ServerResponse } from 'node:http';
import { DEFAULTS, type DetailErrorFormatterOptions } from './options';

// A WeakMap, not a property on the response: a property added to every ServerResponse changes
// its shape per request, which the bench profile showed costing more than the map.
const optionsOfResponse = new WeakMap<ServerResponse, DetailErrorFormatterOptions>();

export function attachFormatterOptions(res: ServerResponse, options: DetailErrorFormatterOptions): void {
  optionsOfResponse.set(res, options);
}

/** The options of the formatter step this response went through, if any. */
export function attachedFormatterOptions(res: ServerResponse): DetailErrorFormatterOptions | undefined {
  return optionsOfResponse.get(res);
}

export function formatterOptionsOf(res: ServerResponse): DetailErrorFormatterOptions {
  return attachedFormatterOptions(res) ?? DEFAULTS;
}
