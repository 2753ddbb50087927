// test/contract.test.ts
// What users code and configure against: the seed contract's three messages, pinned here as
// literal strings so that an edit of messages.ts cannot change them unnoticed; and the README's
// parameter tables, the operator's reference, which must list every property of each schema
// (each policy's and the plugin settings') with its type and default, and nothing else.

import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { MESSAGES } from '../plugin/messages';
import { schema as formatterSchema } from '../plugin/policies/detail-error-formatter/schema';
import { schema as keyAuthSchema } from '../plugin/policies/key-auth/schema';
import { schema as proxySchema } from '../plugin/policies/proxy/schema';
import { schema as rateLimitSchema } from '../plugin/policies/token-bucket-rate-limit/schema';
import { settingsSchema } from '../plugin/settings';

const README = fs.readFileSync(path.resolve(__dirname, '..', '..', 'README.md'), 'utf8');

interface Property { type?: string; enum?: readonly string[]; default?: unknown; items?: { type?: string }; anyOf?: unknown }
interface Schema { properties: Record<string, Property>; required?: readonly string[] }
interface Row { name: string; type: string; defaultText: string }

/** The rows of the first table under `heading` whose header starts with `| <first> | type | default |`. */
function tableUnder(heading: string, first: string): Row[] {
  const section = README.split(new RegExp(`^${heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'))[1]?.split(/^#{2,3} /m)[0] ?? '';
  const lines = section.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`| ${first} | type | default |`));
  expect(start, `a "| ${first} | type | default |" table under ${heading}`).to.be.at.least(0);
  const rows: Row[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim());
    rows.push({ name: (cells[0] ?? '').replace(/`/g, ''), type: cells[1] ?? '', defaultText: cells[2] ?? '' });
  }
  return rows;
}

/** How the README writes a schema default: `x` for strings ('' for empty), digits, true/false, `[]`. */
function renderedDefault(value: unknown): string {
  if (typeof value === 'string') return value === '' ? "''" : `\`${value}\``;
  if (Array.isArray(value)) return value.length === 0 ? '`[]`' : value.map((item) => `\`${String(item)}\``).join(', ');
  return String(value);
}

function expectTableMatches(rows: readonly Row[], schema: Schema, what: string): void {
  expect(rows.map((row) => row.name), `${what}: the table's names`).to.deep.equal(Object.keys(schema.properties));
  for (const row of rows) {
    const property = schema.properties[row.name] as Property;
    const where = `${what}: ${row.name}`;
    if (property.enum !== undefined) {
      for (const value of property.enum) expect(row.type, where).to.include(`\`${value}\``);
    } else if (property.type !== undefined) {
      expect(row.type, where).to.equal(property.type === 'array' && property.items?.type !== undefined ? `${property.items.type}[]` : property.type);
    }
    if (property.default !== undefined) expect(row.defaultText.startsWith(renderedDefault(property.default)), `${where}: default ${row.defaultText}`).to.equal(true);
    else if (schema.required?.includes(row.name) === true) expect(row.defaultText, where).to.equal('(required)');
    else expect(row.defaultText, where).to.equal('–');
  }
}

describe('the seed contract', function () {
  it('keeps its three messages word for word', function () {
    expect(MESSAGES.unauthorized).to.equal('Invalid or missing API Key');
    expect(MESSAGES.tooManyRequests).to.equal('Too many requests. Please wait before trying again.');
    expect(MESSAGES.internalError).to.equal('Internal server error occurred while processing your request');
  });
});

describe('the README\'s parameter tables', function () {
  const policies: Array<[string, Schema]> = [
    ['detail-error-formatter', formatterSchema as unknown as Schema],
    ['key-auth', keyAuthSchema as unknown as Schema],
    ['token-bucket-rate-limit', rateLimitSchema as unknown as Schema],
    ['proxy', proxySchema as unknown as Schema],
  ];
  for (const [name, schema] of policies) {
    it(`lists every parameter of ${name} with the schema's type and default`, function () {
      expectTableMatches(tableUnder(`### ${name}`, 'parameter'), schema, name);
    });
  }

  it('lists every plugin setting with the schema\'s type and default', function () {
    expectTableMatches(tableUnder('## What `npm start` runs', 'setting'), settingsSchema as unknown as Schema, 'plugin settings');
  });
});
