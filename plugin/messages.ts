// plugin/messages.ts
// Every user-facing string. The first three are the seed contract's, word for word: clients match
// on them, so they change only with the contract.

import { STATUS_CODES } from 'node:http';

export const MESSAGES = Object.freeze({
  unauthorized: 'Invalid or missing API Key',
  tooManyRequests: 'Too many requests. Please wait before trying again.',
  internalError: 'Internal server error occurred while processing your request',
  notFound: 'Not Found',
  methodNotAllowed: 'Method Not Allowed',
  forbidden: 'Forbidden',
  badRequest: 'Bad Request',
  payloadTooLarge: 'Request body is larger than the gateway accepts',
  costAboveCapacity: 'This request costs more tokens than the bucket can ever hold, so it can never pass.',
  badGateway: 'The LLM provider could not be reached or failed to answer',
  gatewayTimeout: 'The LLM provider did not answer in time',
  providerError: 'The LLM provider rejected the request',
  bodyNotJson: 'The request body is not valid JSON',
  bodyNotObject: 'The request body must be a JSON object',
  messagesNotArray: '"messages" must be an array of chat messages',
  bodyEncoded: 'The request body must not be compressed on this route',
});

/** What replaces a secret in text passed on (provider messages) and in log fields. */
export const REDACTED = '[redacted]';

/** Message for a status code that arrived without one of ours (core policies, Express itself). */
export function messageForStatus(status: number): string {
  switch (status) {
    case 400: return MESSAGES.badRequest;
    case 401: return MESSAGES.unauthorized;
    case 403: return MESSAGES.forbidden;
    case 404: return MESSAGES.notFound;
    case 405: return MESSAGES.methodNotAllowed;
    case 413: return MESSAGES.payloadTooLarge;
    case 429: return MESSAGES.tooManyRequests;
    // Node's table of reason phrases gives every other 4xx a human-readable detail.
    default: return status >= 500 ? MESSAGES.internalError : (STATUS_CODES[status] ?? MESSAGES.badRequest);
  }
}
