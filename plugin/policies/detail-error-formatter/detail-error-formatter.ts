// plugin/policies/detail-error-formatter/detail-error-formatter.ts
// The policy step: it makes every error answer of this pipeline `{"detail": ...}` JSON. The work
// is done by the response rewriter and the app-level handlers; the step records its options in
// the response's exchange so that they know how this pipeline wants provider failures reported.

import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { resolveOptions } from '../resolve-options';
import { DEFAULTS } from './options';
import { exchangeOf } from '../../http/exchange';
import { ensureResponseRewriter } from '../../http/response-rewriter';

export function detailErrorFormatter(params: Readonly<Record<string, unknown>>): RequestHandler {
  const options = resolveOptions(DEFAULTS, params);
  return function detailErrorFormatterStep(_req: Request, res: Response, next: NextFunction) {
    ensureResponseRewriter(res);
    exchangeOf(res).formatter = options;
    next();
  };
}
