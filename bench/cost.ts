// Cost-counting throughput for design-space search: how many ResNet-20-sized candidates
// (random per-slot variant assignments) are costed per second by the fast slot path, and
// by the full path (build the spec, count it layer by layer; and also hash it), side by
// side in one run. Flags: --model=NAME (default resnet20), --seconds=S per path (default 1).
import { buildModel, slotsOf, specHash, type VariantChoice } from '../src/models/index.js';
import { compileCost, countTotals } from '../src/cost/index.js';

function flag(flags: string[], name: string, fallback: string): string {
  const hit = flags.find((f) => f.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

/** mulberry32: a seeded generator, so every run costs the same candidates */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Variants that fit every slot of a 16-32-64 network. */
const POOL: VariantChoice[] = [
  { kind: 'std' },
  { kind: 'dw-pw' },
  ...[2, 4, 8].map((cg): VariantChoice => ({ kind: 'dw-gpw', cg })),
  ...[2, 4, 8].map((g): VariantChoice => ({ kind: 'gc-shuffle', g })),
  ...[1, 2, 4, 8].flatMap((cg) => [0, 0.25, 0.33, 0.5, 0.75].map((co): VariantChoice => ({ kind: 'dw-scc', cg, co }))),
];

/** Run `body(i)` for about `seconds`, returning calls per second. */
function rate(seconds: number, body: (i: number) => void): { perSecond: number; calls: number; seconds: number } {
  let calls = 0;
  const start = process.hrtime.bigint();
  const limit = BigInt(Math.round(seconds * 1e9));
  let elapsed = 0n;
  while (elapsed < limit) {
    for (let k = 0; k < 1000; k++) body(calls++);
    elapsed = process.hrtime.bigint() - start;
  }
  const s = Number(elapsed) / 1e9;
  return { perSecond: calls / s, calls, seconds: s };
}

export async function run(flags: string[]): Promise<object> {
  const model = flag(flags, 'model', 'resnet20');
  const seconds = Number(flag(flags, 'seconds', '1'));
  const skeleton = slotsOf(model);
  const n = skeleton.slots.length;
  const random = rng(42);
  const candidates: VariantChoice[][] = Array.from({ length: 4096 }, () =>
    Array.from({ length: n }, () => POOL[Math.floor(random() * POOL.length)]!),
  );

  const compiled = compileCost(model);
  let sink = 0; // keeps the work observable so nothing is optimised away
  const fast = rate(seconds, (i) => {
    sink += compiled.cost(candidates[i & 4095]!).macs;
  });
  const full = rate(seconds / 2, (i) => {
    sink += countTotals(buildModel(model, { variants: candidates[i & 4095]! })).macs;
  });
  const fullHash = rate(seconds / 2, (i) => {
    const spec = buildModel(model, { variants: candidates[i & 4095]! });
    sink += countTotals(spec).macs + specHash(spec).length;
  });

  const result = {
    model,
    slots: n,
    variantPool: POOL.length,
    fastPerSecond: Math.round(fast.perSecond),
    fullPerSecond: Math.round(full.perSecond),
    fullWithHashPerSecond: Math.round(fullHash.perSecond),
    fastOverFull: Math.round((fast.perSecond / full.perSecond) * 10) / 10,
    target: 200_000,
    meetsTarget: fast.perSecond >= 200_000,
    checksum: sink,
  };
  const f = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(`model ${model}, ${n} slots, random per-slot variants from a pool of ${POOL.length}`);
  console.log(`fast slot path:        ${f(fast.perSecond)} candidates/s (target >= 200,000: ${result.meetsTarget ? 'met' : 'NOT met'})`);
  console.log(`build spec + count:    ${f(full.perSecond)} candidates/s`);
  console.log(`build + count + hash:  ${f(fullHash.perSecond)} candidates/s`);
  console.log(`fast / full:           ${result.fastOverFull}x`);
  return result;
}
