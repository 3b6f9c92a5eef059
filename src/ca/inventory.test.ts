import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyInventory, parseInventory, serializeInventory } from './inventory.js';
import { parseSerial } from '../util/serial.js';

test('inventory round-trips and refuses damaged or future versions with a clear message', () => {
  const inv = emptyInventory(7);
  assert.deepEqual(parseInventory(serializeInventory(inv), 'x'), inv);
  assert.throws(() => parseInventory('{"version":1,', '/ca/inventory.json'), { code: 'INVENTORY_CORRUPT', message: /inventory \/ca\/inventory\.json is not valid JSON; restore it from a backup/ });
  assert.throws(() => parseInventory('{"version":2,"certificates":[]}', 'p'), { code: 'INVENTORY_VERSION', message: /version 2, this pgmoat reads version 1/ });
  const bad = { ...inv, certificates: [{ name: 'a', environment: 'e', kind: 'client', serial: 'XYZ' }] };
  assert.throws(() => parseInventory(JSON.stringify(bad), 'p'), { code: 'INVENTORY_CORRUPT', message: /certificates\.0\.serial/ });
  assert.throws(() => parseInventory('null', 'p'), { code: 'INVENTORY_CORRUPT' });
});

test('serials are compared in any of the usual spellings', () => {
  // The canonical form (util/serial.ts): whole bytes, as `pgmoat list` prints them.
  assert.equal(parseSerial('0A:BC:de'), '0abcde');
  assert.equal(parseSerial('00ff'), 'ff');
  assert.equal(parseSerial('0'), '00');
  assert.equal(parseSerial('alice'), undefined);
});
