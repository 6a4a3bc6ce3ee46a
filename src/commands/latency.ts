// `dsxplore latency`: measured inference latency of one model/variant, on our engine and/or
// ONNX Runtime on the exported graph, at the same thread count, side by side.
import type { Command } from 'commander';
import { addFlags, flag, jsonFlag, parseFlags } from '../config/flags.js';
import { count, countList, model, namesOf, variant } from '../config/rules.js';
import { countTotals } from '../cost/index.js';
import { baselineVariant, buildModel, formatVariant, listModels, parseVariant, VARIANT_FORMS, type VariantChoice } from '../models/index.js';
import { machineDescription, measureLatency, RUNTIMES, type LatencyResult } from '../deploy/latency.js';

const LATENCY_FLAGS = {
  model: flag('--model <name>', `model: ${listModels().join(', ')}`, model(), { required: true }),
  variant: flag('--variant <v>', `slot variant for every slot: ${VARIANT_FORMS.join(', ')} (default: the model's baseline)`, variant()),
  batch: flag('--batch <list>', 'batch sizes, comma-separated', countList(1, 65536), { default: '1' }),
  threads: flag('--threads <n>', 'CPU threads of both runtimes', count(1, 4096), { default: '1' }),
  runtime: flag('--runtime <list>', `runtimes, comma-separated: ${RUNTIMES.join(', ')}`, namesOf('runtimes', RUNTIMES), { default: 'native' }),
  warmup: flag('--warmup <n>', 'untimed forwards first', count(0, 1_000_000), { default: '10' }),
  reps: flag('--reps <n>', 'timed forwards', count(1, 1_000_000), { default: '30' }),
  inChannels: flag('--in-channels <c>', 'input image channels', count(1, 4096), { default: '3' }),
  inputSize: flag('--input-size <s>', 'input height and width in pixels', count(1, 4096), { default: '32' }),
  classes: flag('--classes <k>', 'number of classes', count(1, 100_000), { default: '10' }),
  json: jsonFlag('one JSON line per measurement'),
};

const HELP = `
Latency is the median of --reps timed eval-mode forwards of one batch after --warmup
untimed ones; the spread is the 10th to 90th percentile. Both runtimes run on the CPU with
--threads threads (ONNX Runtime: intra-op threads, sequential execution, all graph
optimisations). Weights do not change the timing: the engine's seeded initialisation is used.

Example:
  dsxplore latency --model resnet20 --variant dw-scc:cg=2,co=0.5 --batch 1,64 --runtime native,onnxruntime`;

export async function runLatency(raw: unknown): Promise<LatencyResult[]> {
  const flags = parseFlags(LATENCY_FLAGS, raw);
  const variant: VariantChoice = flags.variant === undefined ? baselineVariant(flags.model) : parseVariant(flags.variant);
  const spec = buildModel(flags.model, {
    variants: variant,
    inChannels: flags.inChannels,
    inputSize: flags.inputSize,
    classes: flags.classes,
  });
  const batches = flags.batch;
  const runtimes = flags.runtime;
  const { threads, warmup, reps } = flags;
  const machine = machineDescription();
  const cost = countTotals(spec);
  const label = `${flags.model} ${formatVariant(variant)}`;
  const [c, h, w] = spec.inputShape;
  if (!flags.json) {
    process.stdout.write(`${label}, input ${c}x${h}x${w}, ${cost.macs.toLocaleString('en-US')} MACs per image\n`);
    process.stdout.write(`machine: ${machine}; ${threads} thread${threads === 1 ? '' : 's'}; median of ${reps} after ${warmup} warm-up\n`);
    process.stdout.write(`${'runtime'.padEnd(12)} ${'batch'.padStart(5)} ${'median ms'.padStart(10)} ${'p10-p90 ms'.padStart(17)} ${'images/s'.padStart(10)}\n`);
  }
  const results: LatencyResult[] = [];
  for (const batch of batches) {
    for (const runtime of runtimes) {
      const r = await measureLatency(spec, runtime, { batch, threads, warmup, reps });
      results.push(r);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ model: flags.model, variant: formatVariant(variant), macs: cost.macs, machine, warmup, ...r })}\n`);
      } else {
        const spread = `${r.p10Ms.toFixed(3)}-${r.p90Ms.toFixed(3)}`;
        process.stdout.write(
          `${runtime.padEnd(12)} ${String(batch).padStart(5)} ${r.medianMs.toFixed(3).padStart(10)} ${spread.padStart(17)} ${r.imagesPerSecond.toFixed(1).padStart(10)}\n`,
        );
      }
    }
  }
  return results;
}

export function registerLatency(program: Command): void {
  const cmd = program
    .command('latency')
    .description('measured inference latency of a model/variant on our engine and ONNX Runtime, side by side');
  addFlags(cmd, LATENCY_FLAGS)
    .addHelpText('after', HELP)
    .action(async (flags: unknown) => {
      await runLatency(flags);
    });
}
