// bench/lib/eg-core-process.ts
// Express Gateway WITHOUT this plugin, the benchmark's peer: boots EG from the config directory
// given as argv[2], with EG's bundled models when the directory has none. With BENCH_CREATE_KEY=1
// it first creates a user and a core key-auth credential in EG's db (the directory's
// system.config.yml points db.redis at the bench redis) and prints `{"apiKey":"id:secret"}`.

import { prepareEgConfig } from '../../plugin/eg/config';

interface EgServices {
  user: { insert(user: Record<string, string>): Promise<{ id: string }> };
  credential: { insertCredential(id: string, type: string, props: Record<string, unknown>): Promise<{ keyId: string; keySecret: string }> };
}

async function main(): Promise<void> {
  const configDir = process.argv[2];
  if (!configDir) throw new Error('usage: eg-core-process <configDir>');
  prepareEgConfig(configDir);
  if (process.env['BENCH_CREATE_KEY'] === '1') {
    const services = require('express-gateway/lib/services') as EgServices;
    const user = await services.user.insert({ username: `bench-${process.pid}-${Date.now()}`, firstname: 'bench', lastname: 'bench' });
    const credential = await services.credential.insertCredential(user.id, 'key-auth', {});
    process.stdout.write(`${JSON.stringify({ apiKey: `${credential.keyId}:${credential.keySecret}` })}\n`);
  }
  const gateway = require('express-gateway') as () => { load(dir: string): { run(): Promise<unknown> } };
  await gateway().load(configDir).run();
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`eg-core-process: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
