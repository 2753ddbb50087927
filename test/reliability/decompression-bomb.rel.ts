// test/reliability/decompression-bomb.rel.ts
// Provider error bodies that inflate to gigabytes (issue 13, defect 2), sent through the full
// pipeline among 64 connections of ordinary traffic: no other request may fail, and the gateway's
// event loop may lag at most 20 ms. Brotli reaches gigabytes from about a kilobyte; gzip cannot
// beat about 1:1000, so its bombs are one just under the 64 KiB body limit (64 MiB inflated) and
// one of 2 MB (2 GiB) that the limit cuts.
//
// Lag is each sampled delay beyond the 10 ms sampling tick (test/helpers/metrics.ts).
//
// The load generator and the stand-in provider run in this process, on the same two cores as the
// gateway, and serve as the control: a second in which this process's own loop also stalled past
// half the bound is the machine (both processes waiting for a core at once, or the generator
// sending a burst after its stall), not the gateway's work: such seconds are reported, and left
// out of the lag check. A stall of the gateway alone, which is what a bomb
// inflated on its loop causes, is never left out.

import { expect } from 'chai';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { MESSAGES } from '../../plugin/messages';
import { compressedZeros, type BodyEncoding } from '../helpers/compressed';
import { startGateway, type Gateway } from '../../testkit/gateway';
import { CHAT_BODY } from '../helpers/http';
import { sleep } from '../../testkit/wait';
import { eventLoopLagMaxMs } from '../helpers/metrics';
import { afterBody, answerCompletion, startProvider, type StandInProvider } from '../../testkit/provider';
import { LOAD_KEY, detailOf, fullPipeline, hammer, loadKey, record, rssOf, tally, toMiB, type Answer } from './support';

const CONNECTIONS = 64;
/**
 * Each connection waits up to twice this long (at random, so that the connections do not fall
 * into step) between its requests: about 300 req/s, which keeps the gateway busy, not saturated.
 */
const PACE_MS = 200;
const PHASE_MS = 8000;
/** The first seconds of traffic (compiling, growing the heap) lag 40-75 ms on their own. */
const WARM_UP_MS = 10_000;
const MAX_LAG_MS = 20;
/**
 * This process's own lag past which a second says more about the machine than the gateway. It
 * reads 10-17 ms in ordinary seconds on a quiet 2-core machine (it drives the load, and its own
 * loop delay is sampled raw): half of MAX_LAG_MS left too few seconds to judge. A second judged is
 * a second the gateway's 20 ms bound applies to, so a higher threshold judges more of them.
 */
const MACHINE_STALL_MS = MAX_LAG_MS;
const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const HEADERS = { 'content-type': 'application/json', 'X-API-Key': LOAD_KEY };

interface Bomb { readonly name: string; readonly encoding: BodyEncoding; readonly body: Buffer }
interface BombAnswer { readonly bomb: string; readonly status: number; readonly detail: string | undefined; readonly ms: number }
/** One second of a phase: the gateway's worst loop delay, and this process's. */
interface Second { readonly gatewayMs: number; readonly testProcessMs: number }
interface Phase { readonly answers: Answer[]; readonly bombAnswers: BombAnswer[]; readonly seconds: Second[] }

const round1 = (ms: number): number => Math.round(ms * 10) / 10;

/** The seconds in which this process kept time, so the gateway's lag is its own. */
const judged = (phase: Phase): Second[] => phase.seconds.filter((s) => s.testProcessMs <= MACHINE_STALL_MS);

describe('reliability: decompression bombs among ordinary traffic', function () {
  this.timeout(300_000);
  let upstream: StandInProvider;
  let gateway: Gateway;
  const bombs: Bomb[] = [];

  before(async () => {
    bombs.push({ name: 'br-2GiB', encoding: 'br', body: await compressedZeros('br', 2 * GIB) });
    bombs.push({ name: 'gzip-64MiB', encoding: 'gzip', body: await compressedZeros('gzip', 64 * MIB) });
    bombs.push({ name: 'gzip-2GiB', encoding: 'gzip', body: await compressedZeros('gzip', 2 * GIB) });
    upstream = await startProvider();
    upstream.handler = afterBody((req, res, body) => {
      const bomb = bombs.find((b) => body.includes(`"bomb":"${b.name}"`));
      if (bomb === undefined) { answerCompletion(req, res, body); return; }
      res.writeHead(400, { 'content-type': 'application/json', 'content-encoding': bomb.encoding, 'content-length': bomb.body.length });
      res.end(bomb.body);
    });
    gateway = await startGateway({ providerUrl: upstream.url, steps: fullPipeline([loadKey()], { capacity: 10, refillRate: 1 }) });
  });

  after(async () => {
    await gateway?.stop();
    await upstream?.stop();
  });

  /** CONNECTIONS connections of ordinary requests, each pausing at random after every answer. */
  async function pacedLoad(ms: number): Promise<Answer[]> {
    const answers: Answer[] = [];
    const stopAt = Date.now() + ms;
    const worker = async (): Promise<void> => {
      // Staggered starts: 64 requests landing in the same instant would measure that burst.
      await sleep(Math.random() * 2 * PACE_MS);
      while (Date.now() < stopAt) {
        const sentAt = Date.now();
        try {
          const response = await fetch(`${gateway.url}/v1/chat`, { method: 'POST', headers: HEADERS, body: CHAT_BODY, signal: AbortSignal.timeout(10_000) });
          const body = await response.text();
          answers.push({ identity: 'load', target: gateway.url, sentAt, doneAt: Date.now(), status: response.status, contentType: response.headers.get('content-type') ?? '', body });
        } catch (error: unknown) {
          answers.push({ identity: 'load', target: gateway.url, sentAt, doneAt: Date.now(), status: 0, contentType: '', body: error instanceof Error ? error.message : String(error) });
        }
        await sleep(Math.random() * 2 * PACE_MS);
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, worker));
    return answers;
  }

  /** Ordinary traffic for PHASE_MS, bombs too if asked; both loops' worst delay read each second. */
  async function phase(withBombs: boolean): Promise<Phase> {
    const seconds: Second[] = [];
    const bombAnswers: BombAnswer[] = [];
    let running = true;
    const ownLoop = monitorEventLoopDelay({ resolution: 10 });
    ownLoop.enable();
    await eventLoopLagMaxMs(gateway);
    const sampler = (async () => {
      while (running) {
        await sleep(1000);
        seconds.push({ gatewayMs: round1(await eventLoopLagMaxMs(gateway)), testProcessMs: round1((ownLoop.max - ownLoop.min) / 1e6) });
        ownLoop.reset();
      }
    })();
    const bomber = (async () => {
      while (withBombs && running) {
        for (const bomb of bombs) {
          const started = Date.now();
          const response = await fetch(`${gateway.url}/v1/chat`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ bomb: bomb.name, messages: [] }) });
          const text = await response.text();
          bombAnswers.push({ bomb: bomb.name, status: response.status, detail: detailOf(text), ms: Date.now() - started });
          await sleep(100);
        }
      }
    })();
    const answers = await pacedLoad(PHASE_MS);
    running = false;
    await Promise.all([sampler, bomber]);
    ownLoop.disable();
    return { answers, bombAnswers, seconds };
  }

  const figuresOf = (p: Phase): Record<string, unknown> => ({
    requests: p.answers.length, statuses: tally(p.answers),
    gatewayLagMaxMsPerSecond: p.seconds.map((s) => s.gatewayMs), testProcessLagMaxMsPerSecond: p.seconds.map((s) => s.testProcessMs),
    judgedSeconds: judged(p).length, judgedGatewayLagMaxMs: Math.max(...judged(p).map((s) => s.gatewayMs)),
  });

  it('fails no other request and keeps the event loop within 20 ms while bombs arrive', async () => {
    const pid = gateway.child.pid as number;
    await hammer({ url: `${gateway.url}/v1/chat`, headers: { 'X-API-Key': LOAD_KEY }, connections: CONNECTIONS, until: sleep(2000) });
    await pacedLoad(WARM_UP_MS);
    const baseline = await phase(false);
    const rssBefore = rssOf(pid);
    const bombed = await phase(true);
    const rssAfter = rssOf(pid);
    const failed = bombed.answers.filter((a) => a.status !== 200);
    const byBomb: Record<string, Record<string, number>> = {};
    for (const a of bombed.bombAnswers) {
      const key = `${a.status} ${a.detail === MESSAGES.providerError ? 'generic' : String(a.detail)}`;
      byBomb[a.bomb] = { ...byBomb[a.bomb], [key]: (byBomb[a.bomb]?.[key] ?? 0) + 1 };
    }
    record('decompression-bomb', {
      bombBytes: Object.fromEntries(bombs.map((b) => [b.name, b.body.length])),
      withoutBombs: figuresOf(baseline),
      withBombs: { ...figuresOf(bombed), bombs: byBomb, slowestBombAnswerMs: Math.max(...bombed.bombAnswers.map((a) => a.ms)) },
      rssBeforeMiB: toMiB(rssBefore), rssAfterMiB: toMiB(rssAfter),
    });
    expect(gateway.hasExited, `gateway exited:\n${gateway.logs.slice(-3000)}`).to.equal(false);
    expect(bombed.bombAnswers.length, 'bombs sent').to.be.at.least(bombs.length * 3);
    expect(bombed.bombAnswers.filter((a) => a.status !== 400 || a.detail !== MESSAGES.providerError), 'bombs answered 400 with the generic message').to.deep.equal([]);
    expect(failed.slice(0, 5).map((a) => `${a.status} ${a.body.slice(0, 120)}`), 'other requests that failed').to.deep.equal([]);
    const seconds = judged(bombed);
    expect(seconds.length, 'seconds in which the test process kept time (too few: the machine is too busy to judge)').to.be.at.least(bombed.seconds.length / 2);
    expect(Math.max(...seconds.map((s) => s.gatewayMs)), `gateway event-loop lag while bombs arrived (ms); the same traffic without them: ${Math.max(...judged(baseline).map((s) => s.gatewayMs))} ms`)
      .to.be.at.most(MAX_LAG_MS);
    expect(rssAfter - rssBefore, 'RSS growth while bombs arrived').to.be.below(64 * MIB);
  });
});
