// The sweep config schema: defaults, JSON and YAML, and errors that name the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadSweepConfig, parseSweepConfig, parseSweepConfigText } from '../src/config/sweep.js';
import { UsageError } from '../src/errors.js';

const valid = {
  name: 'quick-1',
  model: 'resnet20',
  dataset: { name: 'mnist', limitTrain: 2000 },
  recipe: { epochs: 1, lr: 0.05 },
  space: { variants: ['dw-scc', 'dw-pw'], cg: [1, 2], co: [0.25, 0.5], tie: 'stage' },
  search: { kind: 'random', n: 4 },
};

function errorOf(raw: unknown): string {
  try {
    parseSweepConfig(raw);
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    return (err as Error).message;
  }
  assert.fail('config was accepted');
}

function withField(path: string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(valid) as Record<string, any>;
  let o = copy;
  for (const p of path.slice(0, -1)) o = o[p] ??= {};
  if (value === undefined) delete o[path[path.length - 1]];
  else o[path[path.length - 1]] = value;
  return copy;
}

test('a minimal config gets the documented defaults', () => {
  const c = parseSweepConfig({
    name: 'a',
    model: 'resnet20',
    dataset: { name: 'synthetic' },
    space: { variants: ['dw-scc'], cg: [2], s: [1, 2] },
    search: { kind: 'grid' },
  });
  assert.deepEqual(c.seeds, [0]);
  assert.deepEqual(c.objectives, ['accuracy', 'macs']);
  assert.equal(c.baselines, true);
  assert.equal(c.space.tie, 'all');
  assert.deepEqual(c.constraints, {});
  assert.equal(c.multiFidelity, undefined);
});

test('YAML and JSON texts give the same config', () => {
  const fromJson = parseSweepConfigText(JSON.stringify(valid), 'x.json');
  const fromYaml = parseSweepConfigText(stringify(valid), 'x.yaml');
  assert.deepEqual(fromYaml, fromJson);
  assert.equal(fromJson.search.kind, 'random');
});

test('each invalid field is named, with the allowed values where the set is closed', () => {
  const cases: [Record<string, unknown>, RegExp[]][] = [
    [withField(['model'], 'resnet21'), [/: model:/, /resnet20/, /vgg16/]],
    [withField(['dataset', 'name'], 'imagenet'), [/dataset\.name:/, /mnist/, /cifar10/]],
    [withField(['space', 'variants'], ['dw-scc', 'sep']), [/space\.variants\[1\]:/, /"dw-gpw"/, /"sep"/]],
    [withField(['space', 'tie'], 'layer'), [/space\.tie:/, /"all", "stage", "slot"/]],
    [withField(['space', 's'], [1, 2]), [/space\.co:/, /either co .* or s/]],
    [withField(['space', 'co'], undefined), [/space\.co:/, /dw-scc needs/]],
    [withField(['space', 'co'], [0.5, 1]), [/space\.co\[1\]:/, /< 1/]],
    [withField(['space', 'cg'], undefined), [/space\.cg:/, /dw-scc need/]],
    [{ ...withField(['space', 'cg'], undefined), space: { variants: ['dw-gpw-shuffle'] } }, [/space\.cg:/, /dw-gpw-shuffle need/]],
    [withField(['search'], { kind: 'anneal' }), [/search\.kind:/, /"grid", "random", "evolutionary"/]],
    [withField(['search'], { kind: 'random' }), [/search\.n:/, /missing/]],
    [withField(['search'], { kind: 'evolutionary', population: 2, generations: 3 }), [/search\.population:/, /4\.\.1000000/]],
    [withField(['multiFidelity'], { rungs: [3, 1] }), [/multiFidelity\.rungs:/, /increasing/]],
    [withField(['objectives'], ['macs', 'params']), [/objectives:/, /accuracy/]],
    [withField(['objectives'], ['accuracy', 'flops']), [/objectives\[1\]:/, /"macs"/]],
    [withField(['constraints'], { minMacs: 10, maxMacs: 5 }), [/constraints\.minMacs:/]],
    [withField(['name'], 'my sweep!'), [/name:/, /letters, digits/]],
    [withField(['seeds'], [1, 1]), [/seeds:/, /repeat/]],
    [withField(['recipe', 'lr'], -1), [/recipe\.lr:/]],
    [withField(['space', 'cgs'], [1]), [/space: unknown field "cgs"/, /allowed fields: variants, choices, cg, co, s, tie/]],
    [withField(['extra'], true), [/unknown field "extra"/, /allowed fields: name, model/]],
    [withField(['dataset'], undefined), [/dataset: required field is missing/]],
  ];
  for (const [raw, patterns] of cases) {
    const msg = errorOf(raw);
    for (const p of patterns) assert.match(msg, p, `message was:\n${msg}`);
  }
});

test('several problems are reported together, on one line separated by "; "', () => {
  const msg = errorOf({ ...withField(['model'], 'nope'), search: { kind: 'grid', n: 3 } });
  assert.match(msg, /model:/);
  assert.match(msg, /search: unknown field "n"/);
  assert.ok(!msg.includes('\n'), msg);
  assert.match(msg, /^invalid sweep config: model: .*; search: unknown field "n"$/);
});

test('loadSweepConfig reads files and explains unreadable ones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-cfg-'));
  const yml = join(dir, 'a.yml');
  writeFileSync(yml, stringify(valid));
  assert.equal(loadSweepConfig(yml).name, 'quick-1');
  const bad = join(dir, 'b.json');
  writeFileSync(bad, '{"name": ');
  assert.throws(() => loadSweepConfig(bad), (e: Error) => e instanceof UsageError && /not valid JSON/.test(e.message));
  assert.throws(() => loadSweepConfig(join(dir, 'none.json')), (e: Error) => e instanceof UsageError && /cannot read/.test(e.message));
  assert.throws(() => loadSweepConfig(join(dir, 'a.toml')), (e: Error) => e instanceof UsageError && /\.json, \.yaml or \.yml/.test(e.message));
});

test('rules across fields: rung epochs against recipe.epochs, recipe against the dataset', () => {
  const mf = { ...valid, multiFidelity: { rungs: [1, 3] }, recipe: { epochs: 5 } };
  assert.match(errorOf(mf), /recipe\.epochs: with multiFidelity .*last rung 3/);
  const ok = parseSweepConfig({ ...valid, multiFidelity: { rungs: [1, 3] }, recipe: { warmupEpochs: 2 } });
  assert.equal(ok.multiFidelity?.eta, 3);
  assert.match(errorOf({ ...valid, recipe: { epochs: 1, warmupEpochs: 2 } }), /recipe\.warmupEpochs: must not exceed epochs/);
  assert.match(errorOf({ ...valid, recipe: { augment: { cropPadding: 16 } }, dataset: { name: 'synthetic:size=8' } }), /recipe\.augment\.cropPadding/);
});

test('baselines may be a list of the space\'s baseline labels; unknown labels are named with the allowed ones', () => {
  const c = parseSweepConfig({ ...valid, baselines: ['dw-pw', 'dw-gpw:cg=2'] });
  assert.deepEqual(c.baselines, ['dw-pw', 'dw-gpw:cg=2']);
  const msg = errorOf({ ...valid, baselines: ['dw-pw', 'gc-shuffle:g=4'] });
  assert.match(msg, /baselines: unknown baseline "gc-shuffle:g=4"; this space's baselines: std, dw-pw, dw-gpw:cg=2, dw-gpw-shuffle:cg=2, gc-shuffle:g=2/);
  assert.match(errorOf({ ...valid, baselines: ['std', 'std'] }), /baselines: must not repeat a baseline/);
});

test('multiFidelity.lowerRungSeeds cannot exceed the seeds', () => {
  const mf = { ...valid, recipe: {}, seeds: [0, 1], multiFidelity: { rungs: [1, 3], lowerRungSeeds: 1 } };
  assert.equal(parseSweepConfig(mf).multiFidelity!.lowerRungSeeds, 1);
  const msg = errorOf({ ...mf, multiFidelity: { rungs: [1, 3], lowerRungSeeds: 3 } });
  assert.match(msg, /multiFidelity\.lowerRungSeeds: must be at most the number of seeds \(2\)/);
});

test('space.choices lists the options themselves; crossing keys beside it, bad notation and repeats are named', async () => {
  const { planSweep } = await import('../src/space/index.js');
  const c = parseSweepConfig({
    ...valid,
    space: { choices: ['dw-pw', 'dw-gpw:cg=4', 'dw-scc:cg=2,co=0.5', 'dw-scc:cg=8,co=0.25'], tie: 'stage' },
    search: { kind: 'grid' },
  });
  const plan = planSweep(c);
  assert.deepEqual(
    plan.space.units[1]!.options.map((o) => o.label),
    ['dw-pw', 'dw-gpw:cg=4', 'dw-scc:cg=2,co=0.5', 'dw-scc:cg=8,co=0.25'],
  );
  assert.equal(plan.size, 4n ** 3n);
  // the baselines are built at the channel groups the choices name
  assert.ok(plan.baselines.some((b) => b.label === 'dw-gpw-shuffle:cg=8'));
  assert.ok(!plan.baselines.some((b) => b.label.includes('cg=1')));
  assert.match(errorOf({ ...valid, space: { choices: ['dw-pw'], cg: [2] } }), /space\.cg: give either choices .* or variants\/cg\/co\/s .*remove cg/);
  assert.match(errorOf({ ...valid, space: { choices: ['dw-pw'], variants: ['dw-pw'] } }), /remove variants/);
  assert.match(errorOf({ ...valid, space: { choices: ['dw-pw', 'dw-scc:cg=2'] } }), /space\.choices\[1\]: invalid variant "dw-scc:cg=2"/);
  assert.match(errorOf({ ...valid, space: { choices: ['dw-gpw:cg=4', 'dw-gpw: cg=4'] } }), /space\.choices: must not repeat an option/);
});

test('a crossed space without variants still means dw-scc, with the same validated form as before choices existed', () => {
  const c = parseSweepConfig({ ...valid, space: { cg: [2], co: [0.5] } });
  assert.deepEqual(c.space, { variants: ['dw-scc'], cg: [2], co: [0.5], tie: 'all' });
});
