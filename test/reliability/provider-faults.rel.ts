// test/reliability/provider-faults.rel.ts
// The provider refusing connections, hanging, and resetting mid-stream, under load: every client
// gets an answer ({"detail"} or a stream that ends), the gateway's sockets come back to where they
// were once the faults stop, and a second round of the same faults grows its memory no further.

import { expect } from 'chai';
import { startGateway, type Gateway } from '../helpers/gateway';
import { Upstream, answerCompletion, startUpstream, type UpstreamHandler } from '../helpers/upstream';
import { sleep } from '../helpers/http';
import { LOAD_KEY, detailOf, fdCountOf, fullPipeline, hammer, loadKey, record, rssOf, tally, type Answer } from './support';

const STREAM_BODY = JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'hello' }] });

/** Every third request hangs, every third streams two events then resets, the rest answer. */
function faultyHandler(): UpstreamHandler {
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
  let upstream: Upstream;
  let gateway: Gateway;
  const pid = (): number => gateway.child.pid as number;

  before(async () => {
    upstream = await startUpstream();
    gateway = await startGateway({
      providerUrl: upstream.url,
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
      upstream.handler = faultyHandler();
      const faulty = [...(await Promise.all([run(4000), run(4000, STREAM_BODY)])).flat()];
      // Refused: nothing listens on the provider's port any more.
      const port = upstream.port;
      await upstream.stop();
      const refused = await run(2000);
      upstream = await new Upstream().start(port);
      const healthy = await run(1500);
      await sleep(3000);
      return { faulty, refused, healthy };
    };

    // Warm-up with a healthy provider, then the baseline.
    await run(2000);
    await sleep(1500);
    const fdBefore = fdCountOf(pid());
    const rssBefore = rssOf(pid());
    // RSS rarely shrinks once V8 has grown its heap, so the first round's growth is mostly the
    // heap's high-water mark (25–65 MiB, run to run). A leak grows again with each round: the
    // second, identical round must add next to nothing.
    const first = await faultRound();
    const rssAfterFirst = rssOf(pid());
    const second = await faultRound();
    const fdAfter = fdCountOf(pid());
    const rssAfter = rssOf(pid());
    const faulty = [...first.faulty, ...second.faulty];
    const refused = [...first.refused, ...second.refused];
    const healthy = [...first.healthy, ...second.healthy];
    const all = [...faulty, ...refused, ...healthy];
    const unanswered = all.filter((a) => !answered(a));
    record('provider-faults', {
      requests: all.length, faulty: tally(faulty), refused: tally(refused), healthyAfter: tally(healthy), fdBefore, fdAfter,
      rssBeforeMiB: Math.round(rssBefore / 1048576), rssAfterFirstRoundMiB: Math.round(rssAfterFirst / 1048576), rssAfterMiB: Math.round(rssAfter / 1048576),
    });
    expect(gateway.hasExited, `gateway exited:\n${gateway.logs.slice(-3000)}`).to.equal(false);
    expect(unanswered.slice(0, 5).map((a) => `${a.status} ${a.body.slice(0, 120)}`), 'clients without an answer').to.deep.equal([]);
    expect(faulty.some((a) => a.status >= 500), 'the faults reached clients as errors').to.equal(true);
    expect(refused.every((a) => a.status >= 500 && detailOf(a.body) !== undefined), 'refused connections answered with a detail').to.equal(true);
    expect(first.healthy.some((a) => a.status === 200) && second.healthy.some((a) => a.status === 200), 'healthy again once the provider is back').to.equal(true);
    expect(fdAfter, 'gateway file descriptors after the faults').to.be.at.most(fdBefore + 8);
    expect(rssAfter, 'gateway RSS after the first round (heap high-water mark)').to.be.at.most(rssBefore + 96 * 1048576);
    expect(rssAfter, 'gateway RSS growth in the second round').to.be.at.most(rssAfterFirst + 16 * 1048576);
  });
});
