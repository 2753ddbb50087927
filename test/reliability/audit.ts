// test/reliability/audit.ts
// Last step of `npm run test:reliability`: `npm audit --omit=dev`, listing high and critical
// advisories of what ships (exit 1 when there is one). A registry without the audit endpoint
// (offline mirrors answer 405) is reported and does not fail the run: it says nothing about the code.

import { spawnSync } from 'node:child_process';
import path from 'node:path';

interface AuditVulnerability { name: string; severity: string; range: string; fixAvailable: unknown; via: unknown[] }
interface AuditReport { vulnerabilities?: Record<string, AuditVulnerability>; metadata?: { vulnerabilities?: Record<string, number> }; message?: string; error?: { summary?: string } }

const root = path.resolve(__dirname, '..', '..', '..');
const run = spawnSync('npm', ['audit', '--omit=dev', '--json'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
let report: AuditReport;
try {
  report = JSON.parse(run.stdout) as AuditReport;
} catch {
  process.stdout.write(`npm audit: no report (exit ${run.status}): ${run.stderr.split('\n').slice(-3).join(' ')}\n`);
  process.exit(0);
}
if (!report.vulnerabilities) {
  process.stdout.write(`npm audit: the registry gave no advisories (${report.message ?? report.error?.summary ?? 'unknown error'}); not checked\n`);
  process.exit(0);
}
const serious = Object.values(report.vulnerabilities).filter((v) => v.severity === 'high' || v.severity === 'critical');
process.stdout.write(`npm audit --omit=dev: ${JSON.stringify(report.metadata?.vulnerabilities ?? {})}\n`);
for (const v of serious) {
  const via = v.via.map((x) => (typeof x === 'string' ? x : (x as { title?: string; url?: string }).title ?? '')).join('; ');
  process.stdout.write(`  ${v.severity.padEnd(8)} ${v.name} ${v.range} (${via}) fix: ${JSON.stringify(v.fixAvailable)}\n`);
}
process.exit(serious.length > 0 ? 1 : 0);
