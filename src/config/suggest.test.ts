import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { didYouMean, editDistance } from './suggest.js';

describe('didYouMean', () => {
  it('counts a swap of neighbours as one edit', () => {
    assert.equal(editDistance('prot', 'port'), 1);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
  });

  it('suggests near misses only', () => {
    assert.equal(didYouMean('prot', ['host', 'port']), 'port');
    assert.equal(didYouMean('pool-mode', ['pool_mode', 'pool_size']), 'pool_mode');
    assert.equal(didYouMean('max_client_con', ['max_client_conn']), 'max_client_conn');
    assert.equal(didYouMean('zzz', ['host', 'port']), undefined);
    assert.equal(didYouMean('password', ['host', 'port']), undefined);
  });
});
