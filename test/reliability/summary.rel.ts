// test/reliability/summary.rel.ts
// Root hook of the reliability run: writes the figures every file recorded to
// bench/results/reliability-<timestamp>.json (git-ignored), the source of the README's section.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { figures } from './support';

const RESULTS_DIR = path.resolve(__dirname, '..', '..', '..', 'bench', 'results');

after(function writeReliabilityFigures() {
  if (Object.keys(figures).length === 0) return;
  const at = new Date();
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `reliability-${at.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify({ at: at.toISOString(), loadavg: os.loadavg(), node: process.version, figures }, null, 2)}\n`);
  process.stdout.write(`\n  reliability figures: ${path.relative(path.resolve(RESULTS_DIR, '..', '..'), file)}\n`);
});
