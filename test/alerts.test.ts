// test/alerts.test.ts
// config/alerts.yml through Debian's promtool: the rules are valid, each one's summary says what to
// do, and test/alerts.rules.test.yml (promtool's unit tests) shows each alert firing on the
// condition it names and quiet otherwise; this file checks that every alert has both cases.

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { REPO_ROOT } from '../testkit/gateway';

const ALERTS = path.join(REPO_ROOT, 'config', 'alerts.yml');
/** Read from the source tree: mocha runs the compiled tests in dist/, which holds no YAML. */
const RULE_TESTS = path.join(REPO_ROOT, 'test', 'alerts.rules.test.yml');

interface AlertRule { alert: string; expr: string; labels?: { severity?: string }; annotations?: { summary?: string } }
interface RuleTest { alertname: string; exp_alerts?: unknown[] }

const rules = (YAML.parse(fs.readFileSync(ALERTS, 'utf8')) as { groups: Array<{ rules: AlertRule[] }> }).groups.flatMap((group) => group.rules);

function promtool(...args: string[]): string {
  const run = spawnSync('promtool', args, { cwd: REPO_ROOT, encoding: 'utf8' });
  if (run.error) throw new Error(`promtool is needed for this test (apt-get install prometheus): ${run.error.message}`);
  const output = `${run.stdout}${run.stderr}`;
  expect(run.status, output).to.equal(0);
  return output;
}

describe('the alert rules (config/alerts.yml) under promtool', function () {
  this.timeout(20_000);

  it('passes promtool check rules, every rule found', function () {
    expect(promtool('check', 'rules', ALERTS)).to.include(`SUCCESS: ${rules.length} rules found`);
  });

  it('gives every alert a severity and a summary that says what to do', function () {
    expect(rules.map((rule) => rule.alert)).to.include.members(['GatewayDown', 'GatewayHighErrorRate', 'GatewayUpstreamErrors', 'GatewayRateLimitStoreErrors',
      'GatewayRateLimitFailOpen', 'GatewayConfigReloadRejected', 'GatewayEventLoopLag', 'GatewayLlmTokenLimitedRatio']);
    for (const rule of rules) {
      expect(rule.labels?.severity, rule.alert).to.be.oneOf(['critical', 'warning']);
      // What happened, a colon, then what to do.
      expect(rule.annotations?.summary, rule.alert).to.match(/: [a-z].+\.$/);
    }
  });

  it('passes promtool test rules, with a firing and a quiet case for every alert', function () {
    expect(promtool('test', 'rules', RULE_TESTS)).to.include('SUCCESS');
    const cases = (YAML.parse(fs.readFileSync(RULE_TESTS, 'utf8')) as { tests: Array<{ alert_rule_test: RuleTest[] }> }).tests.flatMap((test) => test.alert_rule_test);
    for (const rule of rules) {
      const own = cases.filter((c) => c.alertname === rule.alert);
      expect(own.some((c) => (c.exp_alerts ?? []).length > 0), `${rule.alert}: a case where it fires`).to.equal(true);
      expect(own.some((c) => (c.exp_alerts ?? []).length === 0), `${rule.alert}: a case where it stays quiet`).to.equal(true);
    }
  });
});
