// plugin/policies/proxy/request-target.ts
// The target the provider is sent. A client may write an absolute-form target
// (`POST http://other.example/v1/chat`); passed on, a server behind the provider URL may route by
// it (RFC 9112 §3.2.2), so a key holder would pick the host that receives our provider key. The
// provider always gets origin-form: the path and query exactly as the gateway routed them.

const ABSOLUTE_FORM_PREFIX = /^[a-z][a-z0-9+.-]*:\/\/[^/?]*/i;

/** `/path?query` of a request target, or undefined for a target with no path (`*`, `host:port`). */
export function originForm(target: string): string | undefined {
  if (target.charCodeAt(0) === 0x2f /* '/' */) return target;
  const prefix = ABSOLUTE_FORM_PREFIX.exec(target);
  if (prefix === null) return undefined;
  const rest = target.slice(prefix[0].length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}
