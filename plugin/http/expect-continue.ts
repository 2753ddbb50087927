// plugin/http/expect-continue.ts
// `Expect: 100-continue` asks the server whether to send the body. The gateway's server leaves
// the answer to the pipeline (see server-limits.ts), so a bad key or an empty bucket is answered
// without the body being invited; the code that is about to read the body invites it here.

import type { IncomingMessage, ServerResponse } from 'node:http';

/** Sends `100 Continue` if the client waits for it; a second call does nothing. */
export function inviteBody(req: IncomingMessage, res: ServerResponse): void {
  const expect = req.headers.expect;
  if (expect === undefined || expect.toLowerCase() !== '100-continue') return;
  delete req.headers.expect;
  if (!res.headersSent) res.writeContinue();
}
