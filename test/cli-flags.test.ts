// The flag schemas of src/config/flags.ts: each command's schema lists exactly the options
// commander defines for it (so a new flag cannot skip validation), and the shared rules
// (--device, counts, paths) accept what they document and refuse the rest with a message
// that names the flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { z } from 'zod';
import { buildProgram } from '../src/cli.js';
import { count, device, FLAG_SCHEMAS, parseFlags, path, real } from '../src/config/flags.js';
import { UsageError } from '../src/errors.js';

function leaves(c: Command, prefix = ''): [string, Command][] {
  return c.commands.flatMap((s) => {
    const name = `${prefix}${s.name()}`;
    return s.commands.length ? leaves(s, `${name} `) : [[name, s] as [string, Command]];
  });
}

test("every command's options and its flag schema name the same flags", () => {
  const commands = leaves(buildProgram());
  assert.deepEqual(commands.map(([n]) => n).sort(), Object.keys(FLAG_SCHEMAS).sort());
  for (const [name, cmd] of commands) {
    const fromCommander = [...new Set(cmd.options.map((o) => o.attributeName()))].sort();
    assert.deepEqual(Object.keys(FLAG_SCHEMAS[name]!.shape).sort(), fromCommander, name);
  }
});

function refusal(schema: z.ZodType, v: unknown): string {
  try {
    parseFlags(z.strictObject({ someFlag: schema }), { someFlag: v });
  } catch (err) {
    assert.ok(err instanceof UsageError);
    return err.message;
  }
  assert.fail(`accepted ${JSON.stringify(v)}`);
}

test('--device: auto, cpu, cuda, cuda:N; lists only where a command takes several', () => {
  const one = device();
  for (const [raw, want] of [['auto', 'auto'], ['CPU', 'cpu'], [' cuda ', 'cuda'], ['cuda:0', 'cuda:0'], ['cuda:255', 'cuda:255']]) {
    assert.equal(one.parse(raw), want);
  }
  for (const bad of ['tpu', 'cuda:', 'cuda:256', 'cuda:-1', 'cuda:0,1', 'cuda:1e3', '', 'cpu0']) {
    assert.match(refusal(one, bad), /^--some-flag: must be auto, cpu, cuda or cuda:N \(N = 0\.\.255\) \(got ".*"\)$/);
  }
  // sweep/worker --jobs lanes take a list of devices round-robin (the syntax of issue 12)
  const many = device({ list: true });
  assert.equal(many.parse('cuda:0,cuda:3'), 'cuda:0,cuda:3');
  assert.equal(many.parse(' CUDA:0, cpu '), 'cuda:0,cpu');
  for (const bad of ['cuda:1,cuda:1', 'cuda:0,3', 'cuda:0,,cuda:1', 'cuda:0,cuda:256']) {
    assert.match(refusal(many, bad), /or a list such as cuda:0,cuda:1/);
  }
});

test('counts are whole numbers within their bounds; reals are finite decimals', () => {
  const c = count(1, 10);
  assert.equal(c.parse('10'), 10);
  assert.equal(c.parse(' 3 '), 3);
  for (const bad of ['0', '11', '1.5', '-1', 'NaN', '1e1', '0x5', '', '٣']) {
    assert.equal(refusal(c, bad), `--some-flag: must be a whole number in 1..10 (got ${JSON.stringify(bad)})`);
  }
  const r = real('a number > 0', (v) => v > 0);
  assert.equal(r.parse('2.5'), 2.5);
  assert.equal(r.parse('1e-3'), 0.001);
  for (const bad of ['0', 'Infinity', 'NaN', '-1', '1e400', 'abc', '']) assert.match(refusal(r, bad), /^--some-flag: must be a number > 0/);
});

test('paths: not empty, no NUL byte, bounded length', () => {
  assert.equal(path().parse('results/x.db'), 'results/x.db');
  for (const bad of ['', 'a\0b', 'x'.repeat(5000)]) assert.match(refusal(path(), bad), /^--some-flag: must be a file path/);
});

test('train --decay-bn-bias reaches the recipe (its option key differs from the recipe field)', () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const code = `import('./src/cli.ts').then(async m => process.exit(await m.main(${JSON.stringify([
    'train', '--model', 'resnet20', '--dataset', 'synthetic:size=8,classes=3,train=16,test=8', '--epochs', '1',
    '--batch-size', '8', '--threads', '1', '--device', 'cpu', '--decay-bn-bias', '--json',
  ])})))`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const result = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((l) => l.type === 'result');
  assert.equal(result?.recipe?.decayBnAndBias, true, r.stdout.slice(-500));
});
