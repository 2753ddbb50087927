// plugin/http/exchange.ts
// The one place where what a response's earlier handlers learned waits for its later ones: the
// formatter step's options, whether the answer is the provider's, whether a `{"detail"}` body was
// written, the provider's status for the request log, an error answer held back to be rewritten,
// the request's parsed body, the LLM-token reservation to settle.
// Kept in a WeakMap rather than as properties on the response: a property added to every
// ServerResponse changes its shape per request, which the bench profile showed costing more.

import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { UsageMeter } from '../llm/usage-meter';
import type { DetailErrorFormatterOptions } from '../policies/detail-error-formatter/options';
import type { ChatBody } from './chat-body';
import type { HeldErrorAnswer } from './held-error-answer';

export interface Exchange {
  /** The options of the formatter step this response went through; undefined when none ran. */
  formatter: DetailErrorFormatterOptions | undefined;
  /** The response is the provider's answer: its errors are judged as the provider's. */
  fromProvider: boolean;
  /** `sendDetail` wrote the response: it is ours, and no rewrite applies. */
  detailWritten: boolean;
  /** The provider's status, for the request log. */
  upstreamStatus: number | undefined;
  /** An error answer the rewriter holds until it can write its one `{"detail"}` body. */
  held: HeldErrorAnswer | undefined;
  /** The request's JSON, once a policy needed it (read once; the proxy sends these bytes). */
  body: Promise<ChatBody | undefined> | undefined;
  /** The LLM-token reservation of this request, settled by what the provider's answer shows. */
  usage: UsageMeter | undefined;
}

const exchanges = new WeakMap<ServerResponse, Exchange>();

/** The exchange of `res`, made on first use. */
export function exchangeOf(res: ServerResponse): Exchange {
  let exchange = exchanges.get(res);
  if (exchange === undefined) {
    exchange = { formatter: undefined, fromProvider: false, detailWritten: false, upstreamStatus: undefined, held: undefined, body: undefined, usage: undefined };
    exchanges.set(res, exchange);
  }
  return exchange;
}

/** The exchange of `res` if anything recorded one (the hot path of plain answers allocates none). */
export function knownExchange(res: ServerResponse): Exchange | undefined {
  return exchanges.get(res);
}

const newestResponses = new WeakMap<Socket, ServerResponse>();

/** Records the newest response of a connection (a keep-alive connection carries several). */
export function recordNewestResponse(socket: Socket, res: ServerResponse): void {
  newestResponses.set(socket, res);
}

/** The newest response of a connection, if it carried a request. */
export function newestResponse(socket: Socket): ServerResponse | undefined {
  return newestResponses.get(socket);
}
