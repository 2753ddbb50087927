// test/provider-readme.test.ts
// The README's proxy parameter table is the operator's reference: it must list every property of
// the proxy schema, with the schema's default, and nothing the schema does not have.

import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { schema } from '../plugin/policies/proxy/schema';
import { REPO_ROOT } from './helpers/gateway';

interface Row { name: string; type: string; defaultText: string }

function proxyTable(): Row[] {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^### proxy$/m)[1]?.split(/^#{2,4} /m)[0] ?? '';
  return section.split('\n')
    .filter((line) => /^\| `[A-Za-z]+` \|/.test(line))
    .map((line) => {
      const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
      return { name: (cells[0] ?? '').replace(/`/g, ''), type: cells[1] ?? '', defaultText: cells[2] ?? '' };
    });
}

describe('proxy: README parameter table', function () {
  const rows = proxyTable();
  const properties = schema.properties as Record<string, { type: string; default?: unknown; items?: { type: string } }>;

  it('lists exactly the properties of the proxy schema', function () {
    expect(rows.map((row) => row.name).sort()).to.deep.equal(Object.keys(properties).sort());
  });

  it("gives each property the schema's type and default", function () {
    for (const row of rows) {
      const property = properties[row.name];
      if (property === undefined) continue;
      const type = property.type === 'array' ? `${property.items?.type ?? ''}[]` : property.type;
      expect(row.type, row.name).to.equal(type);
      const value = property.default;
      if (value === undefined) continue;
      const expected = Array.isArray(value) ? value.map((item) => `\`${String(item)}\``) : [typeof value === 'string' ? `\`${value}\`` : String(value)];
      for (const text of expected) expect(row.defaultText, row.name).to.include(text);
    }
  });
});
