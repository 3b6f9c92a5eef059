import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareCrl, findRegression, issuerKey, mergeFloors, raiseFloor, sameFloor, type CrlMark } from './crl-order.js';

const ISSUER = 'CN=pgmoat CA, O=pgmoat';
const AKI = '0a0b';

function mark(n: number | undefined, day: number, digest = `d${n}-${day}`, issuer = ISSUER, aki: string | undefined = AKI): CrlMark {
  return { issuer, authorityKeyId: aki, crlNumber: n === undefined ? undefined : BigInt(n), thisUpdate: new Date(Date.UTC(2026, 0, day)), digest };
}

const always = (): boolean => true;

test('numbered CRLs: the number decides, and a higher number must not have an earlier thisUpdate', () => {
  assert.equal(compareCrl(mark(5, 10), mark(4, 9)), 'newer');
  assert.equal(compareCrl(mark(5, 10), mark(4, 10)), 'newer', 'two CRLs signed in the same second');
  assert.equal(compareCrl(mark(3, 8), mark(4, 9)), 'older-number');
  assert.equal(compareCrl(mark(3, 20), mark(4, 9)), 'older-number', 'a later thisUpdate does not save a lower number');
  assert.equal(compareCrl(mark(5, 8), mark(4, 9)), 'older-this-update');
  assert.equal(compareCrl(mark(4, 9), mark(4, 9)), 'same');
  assert.equal(compareCrl(mark(4, 9, 'x'), mark(4, 9, 'y')), 'conflict', 'same number, different list');
  assert.equal(compareCrl(mark(4, 12, 'x'), mark(4, 9, 'y')), 'conflict', 'same number, later thisUpdate: still a conflict');
  assert.equal(compareCrl(mark(4, 8, 'x'), mark(4, 9, 'x')), 'older-this-update', 'same number, earlier thisUpdate');
});

test('numbers beyond 2^53 compare exactly', () => {
  const big = (n: bigint, digest: string): CrlMark => ({ ...mark(0, 9, digest), crlNumber: n });
  assert.equal(compareCrl(big(2n ** 159n, 'a'), big(2n ** 159n - 1n, 'b')), 'newer');
  assert.equal(compareCrl(big(2n ** 159n - 1n, 'a'), big(2n ** 159n, 'b')), 'older-number');
});

test('without a CRL number on either side, thisUpdate decides', () => {
  assert.equal(compareCrl(mark(undefined, 10), mark(undefined, 9)), 'newer');
  assert.equal(compareCrl(mark(undefined, 8), mark(undefined, 9)), 'older-this-update');
  assert.equal(compareCrl(mark(undefined, 9, 'a'), mark(undefined, 9, 'a')), 'same');
  assert.equal(compareCrl(mark(undefined, 9, 'a'), mark(undefined, 9, 'b')), 'conflict');
  assert.equal(compareCrl(mark(undefined, 10), mark(7, 9)), 'newer', 'an unnumbered CRL after a numbered one');
  assert.equal(compareCrl(mark(undefined, 8), mark(7, 9)), 'older-this-update');
  assert.equal(compareCrl(mark(8, 8), mark(undefined, 9)), 'older-this-update');
});

test('a file is checked per issuer; an issuer in force must not vanish while its CA is trusted', () => {
  const other = (n: number, day: number): CrlMark => mark(n, day, `o${n}`, 'CN=other CA', 'ffff');
  const floor = [mark(5, 10), other(2, 3)];
  assert.equal(findRegression([mark(6, 11), other(2, 3)], floor, always), undefined);
  assert.deepEqual(findRegression([mark(6, 11), other(1, 2)], floor, always), { order: 'older-number', offered: other(1, 2), inForce: other(2, 3) });
  assert.deepEqual(findRegression([mark(6, 11)], floor, always), { order: 'issuer-missing', offered: undefined, inForce: other(2, 3) });
  assert.equal(findRegression([mark(6, 11)], floor, (m) => m.issuer === ISSUER), undefined, 'its CA left the bundle');
  // Same name, another key: another issuer (a re-keyed CA starts its own sequence).
  assert.equal(findRegression([mark(1, 12, 'k', ISSUER, 'beef'), mark(5, 10), other(2, 3)], floor, always), undefined);
  // A file holding an old and a new CRL of one issuer is judged by the newest.
  assert.equal(findRegression([mark(3, 8), mark(6, 11), other(2, 3)], floor, always), undefined);
  assert.equal(findRegression([], [], always), undefined);
});

test('the floor only rises, and keeps the number across an unnumbered CRL', () => {
  const raised = raiseFloor([mark(5, 10)], [mark(6, 11)]);
  assert.deepEqual(raised, [mark(6, 11)]);
  const unnumbered = raiseFloor([mark(5, 10)], [mark(undefined, 12, 'u')]);
  assert.equal(unnumbered[0]!.crlNumber, 5n);
  assert.equal(unnumbered[0]!.digest, 'u');
  assert.equal(findRegression([mark(undefined, 12, 'u')], unnumbered, always), undefined, 'the same unnumbered CRL again');
  assert.equal(findRegression([mark(4, 13)], unnumbered, always)?.order, 'older-number', 'the number seen before still counts');
  const kept = raiseFloor([mark(5, 10), mark(1, 1, 'z', 'CN=gone')], [mark(6, 11)]);
  assert.equal(kept.length, 2, 'marks of issuers the file does not hold stay');
});

test('merging two floors keeps the newer mark per issuer', () => {
  const merged = mergeFloors([mark(5, 10)], [mark(7, 12), mark(1, 1, 'z', 'CN=other')]);
  assert.ok(sameFloor(merged, [mark(7, 12), mark(1, 1, 'z', 'CN=other')]));
  assert.ok(sameFloor(mergeFloors([mark(7, 12)], [mark(5, 10)]), [mark(7, 12)]));
  assert.ok(!sameFloor([mark(7, 12)], [mark(7, 12, 'other digest')]));
  assert.notEqual(issuerKey({ issuer: ISSUER, authorityKeyId: undefined }), issuerKey({ issuer: ISSUER, authorityKeyId: AKI }));
});

const markArb = fc.record({
  n: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
  day: fc.integer({ min: 1, max: 6 }),
  digest: fc.constantFrom('a', 'b'),
});

test('property: of two CRLs of one issuer, at most one is newer; once one is in force, nothing it beats comes back', () => {
  fc.assert(
    fc.property(markArb, markArb, (x, y) => {
      const a = mark(x.n, x.day, x.digest);
      const b = mark(y.n, y.day, y.digest);
      const ab = compareCrl(a, b);
      const ba = compareCrl(b, a);
      assert.ok(!(ab === 'newer' && ba === 'newer'));
      if (ab === 'same') assert.equal(ba, 'same');
      // Same number, later thisUpdate, other contents: a conflict one way, older the other way.
      if (ab === 'conflict') assert.ok(ba === 'conflict' || ba === 'older-this-update', ba);
      // Accept a over b only when it is newer or the same; then b (if older) must be refused.
      if (ab === 'newer') {
        const floor = raiseFloor([b], [a]);
        assert.ok(findRegression([b], floor, always), 'the older CRL is refused once the newer one is in force');
        assert.equal(findRegression([a], floor, always), undefined, 'the one in force is accepted again');
      }
    }),
    { numRuns: 500 },
  );
});
