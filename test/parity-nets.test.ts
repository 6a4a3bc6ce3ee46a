// The whole-network GPU parity check (native/test/net_checks.cc, run by ctest in the CUDA
// emulator) builds its networks from text specs in native/test/nets. They must be exactly
// what the TypeScript model builders produce today, or the check would test stale networks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PARITY_DIR, PARITY_NETS, paritySpec } from '../native/test/nets/parity-nets.js';

test('the parity networks in native/test/nets match the model builders', () => {
  const files = Object.keys(PARITY_NETS);
  assert.deepEqual(files, ['resnet20-dw-scc', 'resnet20-std', 'vgg11-dw-gpw', 'mobilenet-gc-shuffle', 'resnet20-dw-gpw-shuffle']);
  for (const file of files) {
    const committed = readFileSync(join(PARITY_DIR, `${file}.spec`), 'utf8');
    assert.equal(committed, paritySpec(file), `${file}.spec is stale: run node --import tsx native/test/nets/parity-nets.ts`);
  }
  // the dw-scc network really has SCC layers with the requested grouping and overlap
  const scc = readFileSync(join(PARITY_DIR, 'resnet20-dw-scc.spec'), 'utf8').split('\n').filter((l) => l.startsWith('scc '));
  assert.equal(scc.length, 18);
  for (const l of scc) {
    const f = l.split(' ');
    const nIn = Number(f[3]);
    const [cin, , , , , groups, , cs] = f.slice(4 + nIn).map(Number);
    assert.equal(groups, 2);
    assert.equal(cs, cin! / groups! / 2, l); // co = 0.5: half the window
  }
  // the dw-gpw-shuffle network: every slot's grouped 1x1 conv is followed by a shuffle with its groups
  const lines = readFileSync(join(PARITY_DIR, 'resnet20-dw-gpw-shuffle.spec'), 'utf8').split('\n');
  const shuffles = lines.filter((l) => l.startsWith('shuffle '));
  assert.equal(shuffles.length, 18);
  for (const l of shuffles) {
    const before = lines[lines.indexOf(l) - 1]!.split(' ');
    assert.ok(before[0] === 'conv2d' && before[1]!.endsWith('.gpw'), l);
    const nIn = Number(l.split(' ')[3]);
    assert.equal(Number(l.split(' ').slice(4 + nIn)[5]), 4, l); // groups
  }
});
