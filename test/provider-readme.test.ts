// test/provider-readme.test.ts
// The README's proxy parameter table is the operator's reference: it must list every property of
// the proxy schema, with the schema's default, and nothing the schema does not have.

import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { schema } from '../plugin/policies/proxy/schema';
import { REPO_ROOT } from '../testkit/gateway';

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

interface Property { type: string; default?: unknown; description: string; items?: { type: string } }

/**
 * What the default column must show: the value (backquoted when a string, each item of a list),
 * `(none)` for an empty list, `(required)` for a required property, and `$NAME` for one whose
 * description says it defaults to the NAME environment variable.
 */
function defaultCell(name: string, property: Property, required: readonly string[]): string[] {
  const value = property.default;
  if (value === undefined && required.includes(name)) return ['(required)'];
  if (value === undefined) {
    const variable = /default: the (\w+) environment variable/.exec(property.description)?.[1];
    if (variable === undefined) throw new Error(`${name}: no default, not required, and no environment variable named as its default`);
    return [`$${variable}`];
  }
  if (Array.isArray(value)) return value.length === 0 ? ['(none)'] : value.map((item) => `\`${String(item)}\``);
  return [typeof value === 'string' ? `\`${value}\`` : String(value)];
}

describe('proxy: README parameter table', function () {
  const rows = proxyTable();
  const properties = schema.properties as Record<string, Property>;
  const required: readonly string[] = schema.required;

  it('lists exactly the properties of the proxy schema', function () {
    expect(rows.map((row) => row.name).sort()).to.deep.equal(Object.keys(properties).sort());
  });

  it("gives each property the schema's type and default", function () {
    expect(rows, 'rows of the README table').to.have.length(Object.keys(properties).length);
    for (const row of rows) {
      const property = properties[row.name];
      if (property === undefined) throw new Error(`${row.name} is in the README table but not in the schema`);
      const type = property.type === 'array' ? `${property.items?.type ?? ''}[]` : property.type;
      expect(row.type, row.name).to.equal(type);
      for (const text of defaultCell(row.name, property, required)) expect(row.defaultText, `${row.name}: default`).to.include(text);
    }
  });
});
