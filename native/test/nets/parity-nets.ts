// The networks of the whole-network GPU parity check (native/test/net_checks.cc), written
// from the TypeScript model builders (src/models) as plain text the C++ check reads without
// a JSON parser. `node --import tsx native/test/nets/parity-nets.ts` rewrites the files;
// test/parity-nets.test.ts fails when they differ from what the builders produce now.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildModel } from '../../../src/models/registry.js';
import type { ModelSpec } from '../../../src/models/spec.js';
import { parseVariant } from '../../../src/models/variant.js';

/** file name -> model, variant and input size (3 channels, 10 classes): 16x16, except
 * VGG-11, whose five poolings need 32x32 */
export const PARITY_NETS: Record<string, { model: string; variant: string; size: number }> = {
  'resnet20-dw-scc': { model: 'resnet20', variant: 'dw-scc:cg=2,co=0.5', size: 16 },
  'resnet20-std': { model: 'resnet20', variant: 'std', size: 16 },
  'vgg11-dw-gpw': { model: 'vgg11', variant: 'dw-gpw:cg=2', size: 32 },
  'mobilenet-gc-shuffle': { model: 'mobilenetv1', variant: 'gc-shuffle:g=2', size: 16 },
  'resnet20-dw-gpw-shuffle': { model: 'resnet20', variant: 'dw-gpw-shuffle:cg=4', size: 16 },
};

/** One line per field group; every layer line carries every field (0 when unused):
 *  op name output n_inputs inputs... inChannels outChannels kernel stride padding groups bias
 *  channelStride channels inFeatures outFeatures padFront */
export function specText(spec: ModelSpec): string {
  const out: string[] = ['dsx-spec 1', `model ${spec.model}`, `input ${spec.inputShape.join(' ')}`, `classes ${spec.classes}`];
  out.push(`tensors ${spec.tensors.length}`);
  for (const t of spec.tensors) out.push(t.join(' '));
  out.push(`layers ${spec.layers.length}`);
  for (const l of spec.layers) {
    const f = l as unknown as Record<string, unknown>;
    const n = (k: string): number => (typeof f[k] === 'number' ? (f[k] as number) : typeof f[k] === 'boolean' ? (f[k] ? 1 : 0) : 0);
    out.push(
      [l.op, l.name, l.output, l.inputs.length, ...l.inputs, n('inChannels'), n('outChannels'), n('kernel'), n('stride'), n('padding'),
        n('groups'), n('bias'), n('channelStride'), n('channels'), n('inFeatures'), n('outFeatures'), n('padFront')].join(' '),
    );
  }
  return out.join('\n') + '\n';
}

export function paritySpec(file: string): string {
  const { model, variant, size } = PARITY_NETS[file]!;
  return specText(buildModel(model, { inChannels: 3, inputSize: size, classes: 10, variants: parseVariant(variant) }));
}

export const PARITY_DIR = dirname(fileURLToPath(import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const file of Object.keys(PARITY_NETS)) writeFileSync(join(PARITY_DIR, `${file}.spec`), paritySpec(file));
}
