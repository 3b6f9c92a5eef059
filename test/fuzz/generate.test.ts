/** The generators: the same seed makes the same scripts; post-login chains stay framed until their last input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from './generate.js';
import { LAYERS, inputsOf, type Script } from './script.js';
import { isFramed } from './wire.js';
import { kindOf } from './stats.js';

test('a script is made again from (seed, id) alone', () => {
  for (let id = 0; id < 300; id++) assert.deepEqual(generate(7, id, LAYERS), generate(7, id, LAYERS));
  assert.notDeepEqual(generate(7, 1, LAYERS), generate(8, 1, LAYERS));
});

test('every layer is generated, and only the layers asked for', () => {
  const seen = new Set(Array.from({ length: 300 }, (_, id) => generate(1, id, LAYERS).layer));
  assert.deepEqual([...seen].sort(), [...LAYERS].sort());
  for (let id = 0; id < 100; id++) assert.equal(generate(1, id, ['tls']).layer, 'tls');
});

/** The bytes of each input of a post-login script (its writes between marks), after login. */
function inputBytes(s: Script): Buffer[] {
  const out: Buffer[] = [];
  let cur: Buffer[] | undefined;
  for (const st of s.steps) {
    if (st.op === 'mark') {
      if (cur) out.push(Buffer.concat(cur));
      cur = [];
    } else if (st.op === 'write' && cur) cur.push(Buffer.from(st.hex, 'hex'));
  }
  if (cur) out.push(Buffer.concat(cur));
  return out;
}

test('post-login: every input but the last is framed and followed by a probe; the last ends the connection', () => {
  let scripts = 0;
  for (let id = 0; id < 2000; id++) {
    const s = generate(3, id, ['post-login']);
    scripts++;
    const inputs = inputBytes(s);
    assert.equal(inputs.length, inputsOf(s));
    for (const b of inputs.slice(0, -1)) assert.ok(isFramed(b), `script ${id}: an input before the last is not framed`);
    const probes = s.steps.filter((x) => x.op === 'probe').length;
    assert.equal(probes, inputs.length - 1, `script ${id}: one probe after each input but the last`);
    assert.ok(['end', 'destroy'].includes(s.steps.at(-1)!.op), `script ${id} ends with ${s.steps.at(-1)!.op}`);
  }
  assert.equal(scripts, 2000);
});

test('the known half-message shape is among the inputs: a CopyData header claiming 100,000,000 bytes, then a hang-up', () => {
  let found = 0;
  for (let id = 0; id < 5000 && found === 0; id++) {
    const s = generate(11, id, ['post-login']);
    if (s.steps.some((st) => st.op === 'mark' && st.note.startsWith('huge-claim:d:100000000'))) found++;
  }
  assert.ok(found > 0);
});

test('kinds drop offsets and lengths, so that counters stay few', () => {
  assert.equal(kindOf('type-swap:3:Q'), 'type-swap');
  assert.equal(kindOf('refused-cert:foreign:direct'), 'refused-cert:foreign');
  assert.equal(kindOf('prefix:12/40'), 'prefix');
  assert.equal(kindOf('hello:truncate:17/300'), 'hello:truncate');
});
