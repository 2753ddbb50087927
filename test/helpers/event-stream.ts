// test/helpers/event-stream.ts
// A raw event-stream client for the streaming tests: POSTs a body and time-stamps each
// server-sent event as it arrives, and can hang up as a client that leaves would.

import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface ReceivedEvent { data: string; at: number }

export interface OpenStream {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly events: ReceivedEvent[];
  /** Resolves when the response ended ('end') or broke off ('error'), with the time it happened. */
  readonly done: Promise<{ how: 'end' | 'error'; at: number }>;
  /** Hangs up, as a client that leaves; returns the time it did. */
  leave(): number;
}

/** POSTs `body` and resolves at the response headers; events are parsed as they arrive. */
export function openStream(url: string, body: string, headers: Record<string, string> = {}): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', 'accept': 'text/event-stream', 'accept-encoding': 'gzip, deflate, br', ...headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const events: ReceivedEvent[] = [];
      let pending = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        const at = performance.now();
        pending += text;
        const blocks = pending.split(/\r\n\r\n|\n\n|\r\r/);
        pending = blocks.pop() ?? '';
        for (const block of blocks) {
          const data = block.split(/\r\n|\n|\r/).filter((line) => line.startsWith('data:')).map((line) => line.slice(5).replace(/^ /, ''));
          if (data.length > 0) events.push({ data: data.join('\n'), at });
        }
      });
      const done = new Promise<{ how: 'end' | 'error'; at: number }>((settle) => {
        res.on('end', () => settle({ how: 'end', at: performance.now() }));
        res.on('error', () => settle({ how: 'error', at: performance.now() }));
        res.on('close', () => { if (!res.complete) settle({ how: 'error', at: performance.now() }); });
      });
      req.removeListener('error', reject);
      req.on('error', () => { /* reported through `done` */ });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        done,
        leave: () => { const at = performance.now(); req.destroy(); return at; },
      });
    });
    req.end(body);
  });
}
