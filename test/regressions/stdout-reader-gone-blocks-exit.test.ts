// test/regressions/stdout-reader-gone-blocks-exit.test.ts
// Found while benchmarking (issue 17): a gateway whose stdout reader had gone away (its parent
// died; a log shipper that stops reading) never exited on SIGTERM. The graceful shutdown ran, but
// pino's exit-time flush sat in sonic-boom's endless retry of a write that failed with EPIPE. It
// now exits 0; with its stdout still read, the shutdown's last line still arrives.

import { expect } from 'chai';
import { once } from 'node:events';
import { proxyStep, startGateway, step } from '../../testkit/gateway';
import { postChat } from '../helpers/http';
import { sleep } from '../../testkit/wait';
import { startProvider, type StandInProvider } from '../../testkit/provider';

const KEY = 'stdout-gone-key-0123456789abcdef0123456';

describe('regression: a gateway whose stdout reader went away ignored SIGTERM', function () {
  this.timeout(30_000);
  let upstream: StandInProvider;

  before(async () => { upstream = await startProvider(); });
  after(async () => { await upstream?.stop(); });

  const start = () => startGateway({ providerUrl: upstream.url, steps: [step('key-auth', { keys: [{ id: 'k', key: KEY }] }), proxyStep()] });

  /** SIGTERM, then the exit code, or `undefined` if the process is still there after `withinMs`. */
  async function exitAfterSigterm(child: import('node:child_process').ChildProcess, withinMs: number): Promise<number | null | undefined> {
    const exited = once(child, 'exit').then(([code]) => code as number | null);
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), withinMs); });
    try {
      return await Promise.race([exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  it('exits 0 on SIGTERM after its stdout and stderr were closed by the reader', async function () {
    const gateway = await start();
    try {
      expect((await postChat(gateway.url, { 'x-api-key': KEY })).status).to.equal(200);
      gateway.child.stdout?.destroy();
      gateway.child.stderr?.destroy();
      // Nothing is written meanwhile: the shutdown's own lines are the first to meet the closed pipe.
      await sleep(500);
      expect(await exitAfterSigterm(gateway.child, 5000), 'exit code within 5 s of SIGTERM').to.equal(0);
    } finally {
      gateway.child.kill('SIGKILL');
    }
  });

  it('still writes the shutdown\'s last line when its stdout is read', async function () {
    const gateway = await start();
    expect(await exitAfterSigterm(gateway.child, 5000)).to.equal(0);
    expect(gateway.logs).to.include('"msg":"shutdown complete"');
  });
});
