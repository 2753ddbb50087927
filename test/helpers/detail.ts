// test/helpers/detail.ts
// The contract's error shape, asserted the same way by every test file.

import { expect } from 'chai';

/** The contract's shape: JSON, one `detail` string, nothing else. */
export function expectDetail(reply: { status: number; headers: Headers; json: unknown; text: string }, status: number, detail?: string): void {
  expect(reply.status, reply.text).to.equal(status);
  expect(reply.headers.get('content-type')).to.match(/^application\/json/);
  expect(reply.json).to.be.an('object');
  expect(Object.keys(reply.json as object)).to.deep.equal(['detail']);
  expect((reply.json as { detail: unknown }).detail).to.be.a('string').and.not.equal('');
  if (detail !== undefined) expect((reply.json as { detail: string }).detail).to.equal(detail);
  expect(reply.text).not.to.match(/<|\n\s+at /);
}
