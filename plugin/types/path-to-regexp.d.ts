// plugin/types/path-to-regexp.d.ts
// path-to-regexp 0.1 (the version Express 4 routes with) ships no types.
declare module 'path-to-regexp' {
  function pathToRegexp(
    path: string | RegExp | Array<string | RegExp>,
    keys?: unknown[],
    options?: { sensitive?: boolean; strict?: boolean; end?: boolean },
  ): RegExp;
  export = pathToRegexp;
}
