// plugin/http/chat-body.ts
// The request's JSON, for the policies that must see it (token limits, a key's allowed models):
// read once, whoever asks first, up to the pipeline's body limit, parsed once, and kept in the
// exchange; the proxy then sends the provider these bytes (re-serialised only when a policy
// changed the body). Pipelines that need nothing of it stream bodies through unread.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendDetail } from '../errors';
import { MESSAGES } from '../messages';
import { inviteBody } from './expect-continue';
import { exchangeOf } from './exchange';

export interface ChatBody {
  /** The bytes as the client sent them. */
  readonly raw: Buffer;
  /** The parsed body: an object whose `messages` is an array. */
  readonly json: Record<string, unknown>;
  /** True once a policy changed `json`: the provider then gets it re-serialised. */
  changed: boolean;
}

/** A body error's status and detail, answered by the reader. */
class BodyRefusal {
  constructor(readonly status: number, readonly detail: string) {}
}

function parse(raw: Buffer): ChatBody | BodyRefusal {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    return new BodyRefusal(400, MESSAGES.bodyNotJson);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return new BodyRefusal(400, MESSAGES.bodyNotObject);
  if (!Array.isArray((json as Record<string, unknown>)['messages'])) return new BodyRefusal(400, MESSAGES.messagesNotArray);
  return { raw, json: json as Record<string, unknown>, changed: false };
}

function collect(req: IncomingMessage, maxBytes: number): Promise<Buffer | BodyRefusal> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        req.removeListener('data', onData);
        // The rest is read and dropped (the server's request timeout bounds it): a client still
        // writing when the socket closes would see EPIPE instead of the 413.
        req.resume();
        resolve(new BodyRefusal(413, MESSAGES.payloadTooLarge));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    // A body of one chunk (the usual case) is kept as it came, not copied.
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks, size)));
    req.once('error', () => resolve(new BodyRefusal(400, MESSAGES.badRequest)));
  });
}

async function read(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<ChatBody | undefined> {
  const refuse = (refusal: BodyRefusal): undefined => {
    sendDetail(res, refusal.status, refusal.detail);
    return undefined;
  };
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) {
    req.resume();
    return refuse(new BodyRefusal(413, MESSAGES.payloadTooLarge));
  }
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    req.resume();
    return refuse(new BodyRefusal(415, MESSAGES.bodyEncoded));
  }
  inviteBody(req, res);
  const raw = await collect(req, maxBytes);
  if (raw instanceof BodyRefusal) return refuse(raw);
  const body = parse(raw);
  return body instanceof BodyRefusal ? refuse(body) : body;
}

/**
 * The request's parsed body, read on first call and shared by later ones; undefined when it was
 * refused (the client already has its 4xx). Never rejects.
 */
export function chatBody(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<ChatBody | undefined> {
  const exchange = exchangeOf(res);
  exchange.body ??= read(req, res, maxBytes);
  return exchange.body;
}

/** The bytes the provider is to receive, when a policy read the body. */
export function bodyToSend(body: ChatBody): Buffer {
  return body.changed ? Buffer.from(JSON.stringify(body.json), 'utf8') : body.raw;
}
