// plugin/policies/detail-error-formatter/detail-error-formatter.ts
// The policy step: it makes every error answer of this pipeline `{"detail": ...}` JSON. The work
// is done by the response rewriter and the app-level handlers; the step attaches its options to
// the response so that they know how this pipeline wants provider failures reported.

import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { resolveOptions } from '../../options';
import { DEFAULTS } from './options';
import { attachFormatterOptions } from './request-options';
import { ensureResponseRewriter } from './response-rewriter';

export function detailErrorFormatter(params: Readonly<Record<string, unknown>>): RequestHandler {
  const options = resolveOptions(DEFAULTS, params);
  return function detailErrorFormatterStep(_req: Request, res: Response, next: NextFunction) {
    ensureResponseRewriter(res);
    attachFormatterOptions(res, options);
    next();
  };
}
