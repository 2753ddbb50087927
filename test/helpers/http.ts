// test/helpers/http.ts
// Plain HTTP calls to the gateway, with the whole answer read.

import http from 'node:http';

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

export async function call(url: string, init: RequestInit = {}): Promise<Reply> {
  const response = await fetch(url, init);
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export const CHAT_BODY = JSON.stringify({ messages: [{ role: 'user', content: 'hello' }] });

export function postChat(baseUrl: string, headers: Record<string, string> = {}, body: string = CHAT_BODY, path = '/v1/chat'): Promise<Reply> {
  return call(`${baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

/** POST from a chosen local address, so "clients" differ by socket address on loopback. */
export function postFrom(gateway: { port: number }, localAddress: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: gateway.port, path: '/v1/chat', method: 'POST', localAddress, headers: { 'content-type': 'application/json', ...headers }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end('{"messages":[]}');
  });
}
