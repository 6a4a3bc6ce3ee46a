// `dsxplore export`: a trained model (a finished trial's weights in the store, or a
// checkpoint file) as an ONNX graph a deployment runtime can run.
import type { Command } from 'commander';
import { addFlags, choice, flag, jsonFlag, parseFlags, STORE_FLAGS, toggle } from '../config/flags.js';
import { count, path } from '../config/rules.js';
import { UsageError } from '../errors.js';
import { countTotals } from '../cost/index.js';
import type { Checkpoint } from '../engine/checkpoint.js';
import { exportOnnx, writeAtomically } from '../deploy/export.js';
import { OPSET } from '../deploy/onnx.js';
import { checkOutputDir, fileCheckpoint, trialCheckpoint } from '../deploy/weights.js';
import { openStoreForReading, storeUrl } from '../store/index.js';

const EXPORT_FLAGS = {
  trial: flag('--trial <id>', 'a finished trial whose weights are in the store', count(1, Number.MAX_SAFE_INTEGER)),
  load: flag('--load <file>', 'a checkpoint file (train --save, pareto export --weights)', path()),
  format: choice('--format <format>', 'output format', ['onnx'], { default: 'onnx' }),
  out: flag('--out <file>', 'the file to write, e.g. model.onnx', path(), { required: true }),
  foldBn: toggle('--no-fold-bn', 'keep BatchNormalization nodes instead of folding them into the convs'),
  db: STORE_FLAGS.db,
  store: STORE_FLAGS.store,
  json: jsonFlag('print one JSON object'),
};

type ExportFlags = ReturnType<typeof parseExportFlags>;
const parseExportFlags = (raw: unknown) => parseFlags(EXPORT_FLAGS, raw);

const HELP = `
The graph takes pixels in [0,1] at the training resolution (NCHW float32, dynamic batch;
MNIST and Fashion-MNIST: the 28x28 image zero-padded by 2 to 32x32) and returns logits
[batch, classes]; the dataset normalisation is its first node. Standard ONNX operators,
opset ${OPSET}. SCC keeps exactly its MACs: its cyclic input windows are gathered on the
channel axis and computed by one grouped 1x1 Conv. BN is folded into the conv before it
unless --no-fold-bn. The file is written whole or not at all.

Examples:
  dsxplore export --trial 12 --out r20-scc.onnx         # a sweep's trial, from the store
  dsxplore export --load r20.dsx --out r20.onnx         # a file from train --save or pareto export --weights`;

async function loadSource(flags: ExportFlags): Promise<{ checkpoint: Checkpoint; source: string }> {
  if ((flags.trial === undefined) === (flags.load === undefined)) {
    throw new UsageError('give exactly one of --trial ID (weights in the store) or --load FILE (a checkpoint file)');
  }
  if (flags.load !== undefined) return { checkpoint: fileCheckpoint(flags.load), source: flags.load };
  const store = await openStoreForReading(storeUrl(flags));
  try {
    const { trial, checkpoint } = await trialCheckpoint(store, Number(flags.trial));
    return { checkpoint, source: `trial ${trial.id} (${trial.label}, sweep ${trial.sweep})` };
  } finally {
    await store.close();
  }
}

export async function runExport(raw: unknown): Promise<void> {
  const flags = parseExportFlags(raw);
  checkOutputDir(flags.out, '--out');
  const { checkpoint, source } = await loadSource(flags);
  const { spec, dataset } = checkpoint.header;
  const engine = await import('../engine/index.js');
  const layout = engine.stateLayout(spec);
  if (layout.stateSize !== checkpoint.state.length) {
    throw new UsageError(
      `${source} holds ${checkpoint.state.length} values but its model spec needs ${layout.stateSize} ` +
        `(written by dsxplore ${checkpoint.header.dsxploreVersion})`,
    );
  }
  const bytes = exportOnnx({
    spec,
    state: checkpoint.state,
    layout,
    normalisation: { dataset: dataset.name, mean: dataset.mean, std: dataset.std },
    foldBn: flags.foldBn,
    metadata: { source },
  });
  writeAtomically(flags.out, bytes);
  const cost = countTotals(spec);
  const result = {
    out: flags.out,
    source,
    model: spec.model,
    dataset: dataset.name,
    input: [...spec.inputShape],
    classes: spec.classes,
    opset: OPSET,
    bnFolded: flags.foldBn,
    params: cost.params,
    macs: cost.macs,
    bytes: bytes.length,
  };
  if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(
      `wrote ${flags.out}: ${spec.model} from ${source}, input ${spec.inputShape.join('x')} pixels in [0,1] (${dataset.name} ` +
        `normalisation in the graph), ${cost.params} params, ${cost.macs} MACs, opset ${OPSET}, BN ${flags.foldBn ? 'folded' : 'kept'}\n`,
    );
  }
}

export function registerExport(program: Command): void {
  const cmd = program.command('export').description('a trained model (a trial in the store or a checkpoint file) as an ONNX graph');
  addFlags(cmd, EXPORT_FLAGS)
    .addHelpText('after', HELP)
    .action(async (flags: unknown) => runExport(flags));
}
