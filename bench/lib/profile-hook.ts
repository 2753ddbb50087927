// bench/lib/profile-hook.ts
// Preloaded into the gateway under test (NODE_OPTIONS=--require): SIGUSR2 starts the V8 CPU
// profiler, the next SIGUSR2 stops it and writes the .cpuprofile to BENCH_PROFILE_FILE. A signal
// pair, not --cpu-prof, so that only the measured load is profiled and the gateway need not exit.

import fs from 'node:fs';
import inspector from 'node:inspector';

const file = process.env['BENCH_PROFILE_FILE'];
if (file) {
  const session = new inspector.Session();
  session.connect();
  let running = false;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 500 }, () => session.post('Profiler.start')));
      return;
    }
    running = false;
    session.post('Profiler.stop', (error, result) => {
      if (!error) fs.writeFileSync(file, JSON.stringify(result.profile));
    });
  });
}
