// `dsxplore inspect`, run in-process through the CLI's main(): table and JSON output, the
// reduction against std, exit code 2 with the valid choices for unknown models and variants.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { runCli } from './helpers/cli.js';

test('inspect --json prints one object with model, variant, params, macs, flops, layers', async () => {
  const r = await runCli(['inspect', '--model', 'resnet20', '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.equal(j.model, 'resnet20');
  assert.equal(j.variant, 'std');
  assert.equal(j.params, 269_722);
  assert.equal(j.macs, 40_551_040);
  assert.equal(j.flops, 2 * 40_551_040);
  assert.ok(Array.isArray(j.layers) && j.layers.length > 0);
  assert.equal(j.layers.reduce((a: number, l: { params: number }) => a + l.params, 0), j.params);
  assert.deepEqual(j.inputShape, [3, 32, 32]);
  assert.equal(j.reduction.params, 1);
});

test('inspect with a dw-scc variant reports the cost and the reduction against std', async () => {
  const json = JSON.parse((await runCli(['inspect', '--model', 'resnet20', '--variant', 'dw-scc:cg=2,co=0.5', '--json'])).out);
  assert.equal(json.variant, 'dw-scc:cg=2,co=0.5');
  assert.equal(json.std.params, 269_722);
  assert.ok(json.params < json.std.params / 4, 'a depthwise-separable net is several times smaller');
  assert.equal(json.reduction.params, json.params / json.std.params);
  // resolved per slot: D = Cin/2, s = D/2
  assert.deepEqual([...new Set(json.slots.map((s: { variant: string }) => s.variant))], [
    'dw-scc:cg=2,s=4',
    'dw-scc:cg=2,s=8',
    'dw-scc:cg=2,s=16',
  ]);

  const table = await runCli(['inspect', '--model', 'resnet20', '--variant', 'dw-scc:cg=2,co=0.5']);
  assert.equal(table.code, 0, table.err);
  for (const col of ['layer', 'kind', 'output', 'params', 'MACs']) assert.ok(table.out.includes(col), col);
  // piped: plain columns, no borders and no ANSI escapes (borders are for a TTY only)
  assert.match(table.out, /^stage1\.block1\.conv1\.scc {2,}scc cg2 s4 {2,}16x32x32 /m);
  assert.doesNotMatch(table.out, /[│┌─]|\x1b\[/);
  const ratio = (json.params / json.std.params).toPrecision(3);
  assert.ok(table.out.includes(`params ${json.params.toLocaleString('en-US')} (${ratio}x std)`), table.out.slice(-400));
});

test('inspect takes input channels, size and classes', async () => {
  const j = JSON.parse((await runCli(['inspect', '--model', 'vgg11', '--in-channels', '1', '--classes', '7', '--json'])).out);
  assert.deepEqual(j.inputShape, [1, 32, 32]);
  assert.equal(j.classes, 7);
  assert.deepEqual(j.layers.at(-1).outputShape, [7, 1, 1]);
  const bad = await runCli(['inspect', '--model', 'vgg11', '--classes', 'ten']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /^dsxplore: --classes: must be a whole number in 1\.\.100000 \(got "ten"\)\n$/);
});

test('unknown model or variant exits 2 and lists the valid ones', async () => {
  const m = await runCli(['inspect', '--model', 'resnet21']);
  assert.equal(m.code, 2);
  assert.match(m.err, /unknown model "resnet21"/);
  assert.match(m.err, /resnet20/);
  assert.match(m.err, /mobilenetv1/);
  const v = await runCli(['inspect', '--model', 'resnet20', '--variant', 'scc']);
  assert.equal(v.code, 2);
  assert.match(v.err, /dw-scc:cg=N,co=R/);
  const slot = await runCli(['inspect', '--model', 'resnet20', '--variant', 'dw-scc:cg=3,co=0.5']);
  assert.equal(slot.code, 2);
  assert.match(slot.err, /slot 0 .*cg=3 does not divide the input channels 16/);
});

test('inspect --help states the cost conventions', async () => {
  const r = await runCli(['inspect', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.out, /flops = 2 \* macs/);
  assert.match(r.out, /BN affine included/);
});

test('inspect --variant takes one variant per slot separated by ";"', async () => {
  const per = Array.from({ length: 18 }, (_, i) => (i < 6 ? 'dw-pw' : 'std')).join(';');
  const j = JSON.parse((await runCli(['inspect', '--model', 'resnet20', '--variant', per, '--json'])).out);
  assert.deepEqual(
    j.slots.map((s: { variant: string }) => s.variant),
    per.split(';'),
  );
  // stage 1's six 16->16 slots at 32x32 change from 9*16*16 to 9*16 + 2*16 + 16*16 params each
  assert.equal(j.params, 269_722 - 6 * (9 * 16 * 16) + 6 * (9 * 16 + 2 * 16 + 16 * 16));
  const short = await runCli(['inspect', '--model', 'resnet20', '--variant', 'std;std']);
  assert.equal(short.code, 2);
  assert.match(short.err, /18 slots, but 2 variants/);
});

test('a reader that closes the pipe early (| head) ends the command quietly, with no EPIPE trace', () => {
  for (const args of ['--help', 'inspect --model resnet20']) {
    const r = spawnSync('bash', ['-c', `set -o pipefail; bin/dsxplore ${args} | head -1`], { encoding: 'utf8' });
    assert.equal(r.stdout.split('\n').filter(Boolean).length, 1, args);
    assert.doesNotMatch(r.stderr, /EPIPE|Unhandled/, `${args}: ${r.stderr}`);
    assert.equal(r.status, 0, `${args}: exit ${r.status}`);
  }
});
