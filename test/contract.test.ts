// test/contract.test.ts
// The seed contract our users code against (../shared/seed): its three messages, pinned here as
// literal strings so that an edit of messages.ts cannot change them unnoticed.

import { expect } from 'chai';
import { MESSAGES } from '../plugin/messages';

describe('the seed contract', function () {
  it('keeps its three messages word for word', function () {
    expect(MESSAGES.unauthorized).to.equal('Invalid or missing API Key');
    expect(MESSAGES.tooManyRequests).to.equal('Too many requests. Please wait before trying again.');
    expect(MESSAGES.internalError).to.equal('Internal server error occurred while processing your request');
  });
});
