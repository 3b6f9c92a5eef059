import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backdateFor, parseLifetime, DAY_MS, HOUR_MS, MINUTE_MS } from './lifetime.js';
import { requestedLifetime, resolveValidity } from './validity.js';
import type { Signer } from './certificate-profiles.js';

test('lifetimes in minutes, hours and days; 5 minutes at least; nothing else', () => {
  assert.deepEqual(parseLifetime('90m'), { ms: 90 * MINUTE_MS, text: '90m' });
  assert.deepEqual(parseLifetime(' 24h '), { ms: 24 * HOUR_MS, text: '24h' });
  assert.deepEqual(parseLifetime('030d'), { ms: 30 * DAY_MS, text: '30d' });
  assert.deepEqual(parseLifetime('5m'), { ms: 5 * MINUTE_MS, text: '5m' });
  for (const bad of ['4m', '0h', '24', 'h', '1.5h', '-1d', '1w', '24 h', '36501d', '']) {
    assert.throws(() => parseLifetime(bad), { code: 'INVALID_LIFETIME', message: /--lifetime must be a whole number of minutes, hours or days/ }, bad);
  }
});

test('notBefore goes back 5 minutes, but never more than a tenth of the lifetime', () => {
  assert.equal(backdateFor(90 * DAY_MS), 5 * MINUTE_MS);
  assert.equal(backdateFor(HOUR_MS), 5 * MINUTE_MS);
  assert.equal(backdateFor(10 * MINUTE_MS), MINUTE_MS);
  assert.equal(backdateFor(5 * MINUTE_MS), 30_000);
});

test('--days and --lifetime together are a usage error; the CA default applies when neither is given', () => {
  const fallback = parseLifetime('24h');
  assert.throws(() => requestedLifetime({ days: 3, lifetime: '1h' }, fallback), { code: 'USAGE' });
  assert.equal(requestedLifetime({}, fallback), fallback);
  assert.equal(requestedLifetime({ days: 2 }, fallback).ms, 2 * DAY_MS);
});

test('a lifetime may not outlive the issuing CA', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const ca = { cert: { notAfter: new Date(now.getTime() + 2 * HOUR_MS) } } as unknown as Pick<Signer, 'cert'>;
  const v = resolveValidity(ca, { lifetime: '1h' }, parseLifetime('24h'), now);
  assert.equal(v.notAfter.getTime() - now.getTime(), HOUR_MS);
  assert.equal(now.getTime() - v.notBefore.getTime(), 5 * MINUTE_MS);
  assert.throws(() => resolveValidity(ca, { lifetime: '3h' }, parseLifetime('24h'), now), { code: 'INVALID_LIFETIME', message: /--lifetime 3h would outlive the CA/ });
  assert.throws(() => resolveValidity(ca, {}, parseLifetime('24h'), now), { code: 'INVALID_LIFETIME', message: /the default lifetime 24h would outlive the CA/ });
  assert.throws(() => resolveValidity(ca, { days: 1 }, parseLifetime('1h'), now), { code: 'INVALID_DAYS' });
});
