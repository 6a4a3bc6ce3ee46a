// `--device auto` on a machine without a usable CUDA device: training falls back to the CPU,
// says why (the engine's deviceFallback; `dsxplore train` prints it on stderr), and a sweep
// trial records the device it ran on and why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { addonPath } from '../src/engine/addon.js';

const root = resolve(import.meta.dirname, '..');
const haveEngine = existsSync(addonPath());

async function usableGpu(): Promise<boolean> {
  const { buildInfo } = await import('../src/engine/doctor.js');
  const b = buildInfo();
  return b.cudaDeviceCount > 0 && b.cudaWhy === '';
}

test('--device auto without a usable GPU trains on the CPU and says why', { skip: haveEngine ? false : `native engine not built (${addonPath()})` }, async (t) => {
  if (await usableGpu()) {
    t.skip('this machine has a usable CUDA device: auto does not fall back');
    return;
  }
  const { train } = await import('../src/engine/index.js');
  const { loadDataset } = await import('../src/data/index.js');
  const { tinyResnet } = await import('./net-fixtures.js');
  const data = loadDataset('synthetic:c=1,size=8,classes=2,train=16,test=8,seed=1');
  const request = {
    spec: tinyResnet([1, 8, 8], 2, 4),
    recipe: {
      epochs: 1, batchSize: 8, lr: 0.01, momentum: 0.9, nesterov: false, weightDecay: 0, decayBnAndBias: false,
      schedule: { kind: 'constant' as const }, warmupEpochs: 0, seed: 1, threads: 1, augment: { cropPadding: 0, flip: false },
    },
    train: data.train,
    test: data.test,
  };
  const r = await train({ ...request, device: 'auto' });
  assert.equal(r.device, 'cpu');
  assert.ok(r.deviceFallback && r.deviceFallback.length > 0, `deviceFallback: ${r.deviceFallback}`);
  const cpu = await train({ ...request, device: 'cpu' });
  assert.equal(cpu.deviceFallback, undefined, 'an explicit --device cpu is no fallback');

  // the CLI says so on stderr, and the JSON result carries it
  const code = `import('./src/cli.ts').then(async m => process.exit(await m.main(${JSON.stringify([
    'train', '--model', 'resnet20', '--variant', 'dw-scc:cg=2,co=0.5', '--dataset', 'synthetic:size=8,classes=2,train=16,test=8',
    '--epochs', '1', '--batch-size', '8', '--threads', '1', '--device', 'auto', '--json',
  ])})))`;
  const p = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  assert.equal(p.status, 0, p.stderr);
  assert.match(p.stderr, /--device auto: CUDA is not usable \(.+\); trained on the CPU/);
  const result = JSON.parse(p.stdout.trim().split('\n').at(-1)!);
  assert.equal(result.device, 'cpu');
  assert.ok(typeof result.deviceFallback === 'string' && result.deviceFallback.length > 0);
});
