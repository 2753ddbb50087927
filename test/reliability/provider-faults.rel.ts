// test/reliability/provider-faults.rel.ts
// The provider refusing connections, hanging, and resetting mid-stream, under load: every client
// gets an answer ({"detail"} or a stream that ends), the gateway's sockets come back to where they
// were once the faults stop, and rounds of the same faults leave its live heap where it was.

import { expect } from 'chai';
import { startGateway, type Gateway } from '../../testkit/gateway';
import { afterBody, answerCompletion, StandInProvider, startProvider, type BodyHandler } from '../../testkit/provider';
import { sleep } from '../../testkit/wait';
import { LIVE_HEAP_ENV, LOAD_KEY, detailOf, fdCountOf, fullPipeline, hammer, liveHeapOf, loadKey, record, rssOf, tally, toMiB, type Answer } from './support';

const FAULT_ROUNDS = 3;
const STREAM_BODY = JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'hello' }] });

/** Every third request hangs, every third streams two events then resets, the rest answer. */
function faultyHandler(): BodyHandler {
  let n = 0;
  return (req, res, body) => {
    n += 1;
    if (n % 3 === 0) return; // hang: never answer
    if (n % 3 === 1 && body.includes('"stream":true')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"seq":1}\n\n');
      setTimeout(() => { res.write('data: {"seq":2}\n\ndata: {"seq":3, "cut'); req.socket.destroy(); }, 20);
      return;
    }
    if (n % 3 === 1) { req.socket.destroy(); return; } // reset before any answer
    answerCompletion(req, res, body);
  };
}

function answered(a: Answer): boolean {
  if (a.status === 200) return a.contentType.includes('event-stream') ? a.body.endsWith('\n\n') || a.body.length > 0 : true;
  return a.status !== 0 && detailOf(a.body) !== undefined;
}

describe('reliability: provider refusing, hanging and resetting mid-stream under load', function () {
  this.timeout(120_000);
  let upstream: StandInProvider;
  let gateway: Gateway;
  const pid = (): number => gateway.child.pid as number;

  before(async () => {
    upstream = await startProvider();
    gateway = await startGateway({
      providerUrl: upstream.url,
      env: LIVE_HEAP_ENV,
      steps: fullPipeline([loadKey()], { capacity: 10, refillRate: 1 }, { firstByteTimeoutMs: 1000, connectTimeoutMs: 1000, idleTimeoutMs: 1000 }),
    });
  });

  after(async () => {
    await gateway?.stop();
    await upstream?.stop();
  });

  it('answers every client and leaves no socket or memory behind', async () => {
    const run = async (ms: number, body?: string): Promise<Answer[]> => hammer({
      url: `${gateway.url}/v1/chat`, headers: { 'X-API-Key': LOAD_KEY }, connections: 16, until: sleep(ms), ...(body ? { body } : {}),
    });
    /** One round of faults: faulty provider, then refused connections, then healthy again. */
    const faultRound = async (): Promise<{ faulty: Answer[]; refused: Answer[]; healthy: Answer[] }> => {
      upstream.handler = afterBody(faultyHandler());
      const faulty = [...(await Promise.all([run(4000), run(4000, STREAM_BODY)])).flat()];
      // Refused: nothing listens on the provider's port any more.
      const port = upstream.port;
      await upstream.stop();
      const refused = await run(2000);
      upstream = await new StandInProvider().start(port);
      const healthy = await run(1500);
      await sleep(3000);
      return { faulty, refused, healthy };
    };

    // Warm-up with a healthy provider, then the baseline.
    await run(2000);
    await sleep(1500);
    const fdBefore = fdCountOf(pid());
    const rssBefore = rssOf(pid());
    const heapBefore = await liveHeapOf(gateway);
    // The first round may keep what any first use keeps (compiled code, a metric's new label
    // values); a leak keeps more with every round, so the later rounds must add next to nothing.
    const rounds: Array<Awaited<ReturnType<typeof faultRound>>> = [];
    const heapAfterRound: number[] = [];
    for (let round = 0; round < FAULT_ROUNDS; round += 1) {
      rounds.push(await faultRound());
      heapAfterRound.push(await liveHeapOf(gateway));
    }
    const fdAfter = fdCountOf(pid());
    const rssAfter = rssOf(pid());
    const faulty = rounds.flatMap((r) => r.faulty);
    const refused = rounds.flatMap((r) => r.refused);
    const healthy = rounds.flatMap((r) => r.healthy);
    const all = [...faulty, ...refused, ...healthy];
    const unanswered = all.filter((a) => !answered(a));
    const heapFirst = heapAfterRound[0] as number;
    const heapLast = heapAfterRound[heapAfterRound.length - 1] as number;
    record('provider-faults', {
      requests: all.length, faulty: tally(faulty), refused: tally(refused), healthyAfter: tally(healthy), fdBefore, fdAfter,
      liveHeapMiB: [heapBefore, ...heapAfterRound].map(toMiB), rssBeforeMiB: toMiB(rssBefore), rssAfterMiB: toMiB(rssAfter),
    });
    expect(gateway.hasExited, `gateway exited:\n${gateway.logs.slice(-3000)}`).to.equal(false);
    expect(unanswered.slice(0, 5).map((a) => `${a.status} ${a.body.slice(0, 120)}`), 'clients without an answer').to.deep.equal([]);
    expect(faulty.some((a) => a.status >= 500), 'the faults reached clients as errors').to.equal(true);
    expect(refused.every((a) => a.status >= 500 && detailOf(a.body) !== undefined), 'refused connections answered with a detail').to.equal(true);
    expect(rounds.every((r) => r.healthy.some((a) => a.status === 200)), 'healthy again once the provider is back').to.equal(true);
    expect(fdAfter, 'gateway file descriptors after the faults').to.be.at.most(fdBefore + 8);
    expect(toMiB(heapFirst - heapBefore), 'live heap kept by the first round (MiB)').to.be.at.most(4);
    expect(toMiB(heapLast - heapFirst), `live heap kept by rounds 2-${FAULT_ROUNDS} (MiB)`).to.be.at.most(1);
    // RSS is no leak measure (V8 keeps pages it grew into), but it must not run away either.
    expect(rssAfter, 'gateway RSS after the faults').to.be.at.most(rssBefore + 96 * 1048576);
  });
});
