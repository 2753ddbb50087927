// test/reliability/fuzz.rel.ts
// 10,000 fuzzed requests written on raw sockets (so malformed ones reach the server as sent):
// random methods, paths, header sizes and encodings, missing/empty/duplicate/huge/non-ASCII
// X-API-Key values, broken, huge and mis-encoded bodies. The gateway must not crash, every non-2xx
// must be JSON {"detail": string}, and its memory must come back to the baseline. Requests Node's
// parser rejects get the plugin's JSON answer (clientError); the one answer Node still writes
// itself, before any app code runs, is the bodiless 400 to an HTTP/1.1 request without Host:
// those are counted apart. FUZZ_SEED replays a run; FUZZ_REQUESTS changes its size.

import { expect } from 'chai';
import net from 'node:net';
import { CHAT_BODY } from '../helpers/http';
import { sleep } from '../../testkit/wait';
import { LIVE_HEAP_ENV, LOAD_KEY, detailOf, fullPipeline, liveHeapOf, loadKey, record, rssOf, toMiB } from './support';
import { gatewayInFront } from '../helpers/gateway-fixture';

const TOTAL = Number(process.env['FUZZ_REQUESTS'] ?? 10_000);
const SEED = Number(process.env['FUZZ_SEED'] ?? Date.now() % 1_000_000);
const CONCURRENCY = 32;

/** mulberry32: small, seedable, good enough to pick cases. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case { readonly kind: string; readonly bytes: Buffer; readonly head: boolean; readonly truncated: boolean }

function buildCase(rand: () => number, port: number): Case {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
  const kinds: string[] = [];
  const method = pick(['POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'FOO', 'post']);
  const path = pick([
    '/v1/chat', '/v1/chat', '/v1/chat/completions', '/', '/v1/chat/../admin', '/%ff%fe', '/v1/ch%61t', `/${'a'.repeat(Math.floor(rand() * 12000))}`,
    `/v1/chat?x=${Math.floor(rand() * 1e9)}`, '/\u00fcn\u00ef', '*', '/v1/chat#frag', '//v1//chat', '/v1/chat%00',
  ]);
  kinds.push(`method:${method}`);
  const headers: Array<[string, Buffer | string]> = [['Host', `127.0.0.1:${port}`], ['Connection', 'close']];
  const keyCase = pick(['valid', 'valid', 'valid', 'none', 'empty', 'duplicate', 'duplicate-valid', 'huge', 'oversize', 'utf8', 'latin1', 'control', 'padded', 'wrong']);
  kinds.push(`key:${keyCase}`);
  switch (keyCase) {
    case 'valid': headers.push(['X-API-Key', LOAD_KEY]); break;
    case 'empty': headers.push(['X-API-Key', '']); break;
    case 'duplicate': headers.push(['X-API-Key', LOAD_KEY], ['X-API-Key', 'other-key']); break;
    case 'duplicate-valid': headers.push(['X-API-Key', LOAD_KEY], ['x-api-key', LOAD_KEY]); break;
    case 'huge': headers.push(['X-API-Key', 'k'.repeat(8000)]); break;
    case 'oversize': headers.push(['X-API-Key', 'k'.repeat(20000)]); break;
    case 'utf8': headers.push(['X-API-Key', Buffer.from('cl\u00e9-\u00fc\u00f1\u00ef\u00e7\u00f8d\u00e9-\u{1f511}', 'utf8')]); break;
    case 'latin1': headers.push(['X-API-Key', Buffer.from([0x6b, 0xe9, 0xff, 0xa0, 0x79])]); break;
    case 'control': headers.push(['X-API-Key', `${LOAD_KEY}\u0001`]); break;
    case 'padded': headers.push(['X-API-Key', `  ${LOAD_KEY}  `]); break;
    case 'wrong': headers.push(['X-API-Key', `wrong-${Math.floor(rand() * 1e9)}`]); break;
    default: break;
  }
  if (rand() < 0.15) { const size = Math.floor(rand() * 20000); headers.push(['X-Padding', 'p'.repeat(size)]); kinds.push('padding'); }
  if (rand() < 0.1) { headers.push(['Content-Encoding', pick(['gzip', 'br', 'deflate', 'identity', 'x-junk'])]); kinds.push('encoding'); }
  headers.push(['Content-Type', pick(['application/json', 'application/json', 'text/plain', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', '\u00e9'])]);

  let truncated = false;
  const bodyCase = pick(['valid', 'valid', 'valid', 'empty', 'broken', 'huge', 'binary', 'chunked', 'bad-chunked', 'cl-and-te', 'short', 'number', 'deep']);
  kinds.push(`body:${bodyCase}`);
  let body: Buffer = Buffer.from(CHAT_BODY);
  let framing: 'length' | 'chunked' | 'raw' = 'length';
  switch (bodyCase) {
    case 'empty': body = Buffer.alloc(0); break;
    case 'broken': body = Buffer.from('{"messages": [{"role": "user", "content": "hel'); break;
    case 'huge': body = Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(1_500_000 + Math.floor(rand() * 1_000_000)) }] })); break;
    case 'binary': body = Buffer.from(Array.from({ length: 200 }, () => Math.floor(rand() * 256))); break;
    case 'chunked': framing = 'chunked'; break;
    case 'bad-chunked': framing = 'raw'; body = Buffer.from('zz\r\nhello\r\n0\r\n\r\n'); headers.push(['Transfer-Encoding', 'chunked']); break;
    case 'cl-and-te': framing = 'raw'; body = Buffer.from('5\r\nhello\r\n0\r\n\r\n'); headers.push(['Transfer-Encoding', 'chunked'], ['Content-Length', '5']); break;
    case 'short': framing = 'raw'; headers.push(['Content-Length', String(body.length + 100)]); truncated = true; break;
    case 'number': body = Buffer.from('12345'); break;
    case 'deep': body = Buffer.from(`${'['.repeat(5000)}${']'.repeat(5000)}`); break;
    default: break;
  }
  if (framing === 'length') headers.push(['Content-Length', String(body.length)]);
  if (framing === 'chunked') {
    headers.push(['Transfer-Encoding', 'chunked']);
    const half = Math.floor(body.length / 2);
    body = Buffer.concat([
      Buffer.from(`${half.toString(16)}\r\n`), body.subarray(0, half), Buffer.from(`\r\n${(body.length - half).toString(16)}\r\n`), body.subarray(half), Buffer.from('\r\n0\r\n\r\n'),
    ]);
  }

  let requestLine = `${method} ${path} HTTP/1.1`;
  const malformed = rand() < 0.05 ? pick(['garbage', 'version', 'no-host', 'spaces', 'lf-only']) : undefined;
  if (malformed) kinds.push(`malformed:${malformed}`);
  if (malformed === 'version') requestLine = `${method} ${path} HTTP/9.9`;
  if (malformed === 'spaces') requestLine = `${method}  ${path}  HTTP/1.1 extra`;
  if (malformed === 'no-host') headers.splice(0, 1);
  const eol = malformed === 'lf-only' ? '\n' : '\r\n';
  const head = Buffer.concat([
    Buffer.from(requestLine + eol, 'latin1'),
    ...headers.map(([name, value]) => Buffer.concat([Buffer.from(`${name}: `, 'latin1'), typeof value === 'string' ? Buffer.from(value, 'utf8') : value, Buffer.from(eol, 'latin1')])),
    Buffer.from(eol, 'latin1'),
  ]);
  const bytes = malformed === 'garbage' ? Buffer.from(Array.from({ length: 300 }, () => Math.floor(rand() * 256))) : Buffer.concat([head, body]);
  return { kind: kinds.join(' '), bytes, head: method === 'HEAD', truncated };
}

interface Reply { readonly raw: Buffer; readonly error?: string }

/**
 * Writes the request in 64 KiB slices and stops writing once the server has answered: a server
 * that answers a huge body early (404, 401, 413) and closes would otherwise turn into EPIPE here
 * and the answer it sent would be lost.
 */
function send(port: number, bytes: Buffer, truncated: boolean): Promise<Reply> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    let writeError: string | undefined;
    const finish = (error?: string): void => {
      if (done) return;
      done = true;
      socket.destroy();
      const reason = error ?? writeError;
      resolve(reason === undefined ? { raw: Buffer.concat(chunks) } : { raw: Buffer.concat(chunks), error: reason });
    };
    socket.setTimeout(15_000, () => finish('client timeout'));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    // A write error is not the end: the answer may still be arriving.
    socket.on('error', (error) => { writeError = error.message; setTimeout(() => finish(), 200); });
    let at = 0;
    const writeMore = (): void => {
      while (at < bytes.length && chunks.length === 0 && !socket.destroyed) {
        const slice = bytes.subarray(at, at + 65536);
        at += slice.length;
        if (!socket.write(slice)) { socket.once('drain', writeMore); return; }
      }
      if (at >= bytes.length && truncated) socket.end();
    };
    socket.on('connect', writeMore);
  });
}

interface Parsed { status: number; headers: Map<string, string>; body: Buffer }

function parse(raw: Buffer): Parsed | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? Number.NaN);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const cut = line.indexOf(':');
    if (cut > 0) headers.set(line.slice(0, cut).trim().toLowerCase(), line.slice(cut + 1).trim());
  }
  let body = raw.subarray(end + 4);
  if (headers.get('transfer-encoding')?.toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    let at = 0;
    while (at < body.length) {
      const lineEnd = body.indexOf('\r\n', at);
      if (lineEnd < 0) break;
      const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
      if (!size) break;
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  }
  return { status, headers, body };
}

describe('reliability: 10,000 fuzzed requests', function () {
  this.timeout(600_000);
  const suite = gatewayInFront(() => ({ env: LIVE_HEAP_ENV, steps: fullPipeline([loadKey()], { capacity: 10, refillRate: 1 }) }));

  it(`never crashes, answers every non-2xx with {"detail"} and returns to its memory baseline (seed ${SEED})`, async () => {
    const rand = prng(SEED);
    const pid = suite.gateway.child.pid as number;
    const counts = { ok: 0, detail: 0, parserLevel: 0, headNoBody: 0, truncatedNoAnswer: 0, closedWhileSendingHuge: 0 };
    const parserLevelByStatus: Record<string, number> = {};
    const violations: string[] = [];
    let rssBaseline = 0;
    let heapBaseline = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < TOTAL) {
        const index = next;
        next += 1;
        if (index === 500) { await sleep(500); rssBaseline = rssOf(pid); heapBaseline = await liveHeapOf(suite.gateway); }
        const c = buildCase(rand, suite.gateway.port);
        const reply = await send(suite.gateway.port, c.bytes, c.truncated);
        const parsed = parse(reply.raw);
        if (!parsed) {
          if (c.truncated && reply.raw.length === 0) { counts.truncatedNoAnswer += 1; continue; }
          // The server closed before its answer reached us while we were still sending megabytes.
          if (c.kind.includes('body:huge') && reply.raw.length === 0 && reply.error !== undefined && reply.error !== 'client timeout') { counts.closedWhileSendingHuge += 1; continue; }
          violations.push(`${c.kind}: no HTTP answer (${reply.error ?? 'closed'}) ${reply.raw.subarray(0, 80).toString('latin1')}`);
          continue;
        }
        if (parsed.status >= 200 && parsed.status < 300) { counts.ok += 1; continue; }
        if (!parsed.headers.has('content-type') && parsed.body.length === 0 && (parsed.status === 400 || parsed.status === 431 || parsed.status === 505 || parsed.status === 413)
          && parsed.headers.get('connection') === 'close') {
          counts.parserLevel += 1;
          parserLevelByStatus[String(parsed.status)] = (parserLevelByStatus[String(parsed.status)] ?? 0) + 1;
          continue;
        }
        if (c.head) {
          if ((parsed.headers.get('content-type') ?? '').includes('application/json')) { counts.headNoBody += 1; continue; }
          violations.push(`${c.kind}: HEAD ${parsed.status} with content-type ${parsed.headers.get('content-type') ?? '(none)'}`);
          continue;
        }
        if (detailOf(parsed.body.toString('utf8')) !== undefined) { counts.detail += 1; continue; }
        violations.push(`${c.kind}: ${parsed.status} ${parsed.headers.get('content-type') ?? '(no type)'} ${parsed.body.subarray(0, 100).toString('utf8')}`);
      }
    };
    const startedAt = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
    const elapsedMs = Date.now() - startedAt;
    // Let timers, sockets and the GC settle before comparing memory.
    await sleep(3000);
    const rssAfter = rssOf(pid);
    const heapAfter = await liveHeapOf(suite.gateway);
    record('fuzz', {
      seed: SEED, requests: TOTAL, elapsedMs, ...counts, parserLevelByStatus, violations: violations.length,
      liveHeapBaselineMiB: toMiB(heapBaseline), liveHeapAfterMiB: toMiB(heapAfter), rssBaselineMiB: toMiB(rssBaseline), rssAfterMiB: toMiB(rssAfter),
    });
    expect(suite.gateway.hasExited, `gateway exited:\n${suite.gateway.logs.slice(-3000)}`).to.equal(false);
    expect(violations.slice(0, 10), `${violations.length} answers that are not 2xx nor {"detail"}`).to.deep.equal([]);
    expect(toMiB(heapAfter - heapBaseline), 'live heap kept by 9,500 fuzzed requests (MiB)').to.be.at.most(2);
    // RSS is no leak measure (V8 keeps pages it grew into), but it must not run away either.
    expect(rssAfter, 'gateway RSS after the fuzz run').to.be.at.most(rssBaseline + 64 * 1048576);
  });
});
