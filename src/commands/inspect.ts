// `dsxplore inspect`: one model with one slot variant, layer by layer, with its analytic
// cost and the reduction against the same model built with `std` convs in every slot.
import Table from 'cli-table3';
import type { Command } from 'commander';
import { countCost, layerKind, type LayerCost } from '../cost/index.js';
import { addFlags, flag, jsonFlag, parseFlags } from '../config/flags.js';
import { count, model, stem, variant } from '../config/rules.js';
import {
  baselineVariant,
  buildModel,
  describeModel,
  formatVariant,
  listModels,
  parseVariant,
  specHash,
  VARIANT_FORMS,
  type ModelSpec,
  imagenetStemModels,
  type Stem,
  type VariantChoice,
} from '../models/index.js';

const HELP = `
Variants (README.md, section Variants): ${VARIANT_FORMS.join(', ')}.
  dw-scc's channel stride s is resolved per slot from co as clamp(D - round(co*D), 1, D), D = Cin/cg.
  Without --variant the model's baseline is used (std; dw-pw for mobilenetv1).

Cost conventions: macs = multiply-accumulates of conv, SCC and linear layers, per image;
flops = 2 * macs; params = every trainable scalar (BN affine included, BN running
statistics excluded). The reduction is against the same model with std convs in every slot.

Examples:
  dsxplore inspect --model resnet20
  dsxplore inspect --model resnet20 --variant dw-scc:cg=2,co=0.5
  dsxplore inspect --model vgg16 --in-channels 1 --classes 10 --json
  dsxplore inspect --model resnet50 --stem imagenet --input-size 224 --classes 1000`;

const INSPECT_FLAGS = {
  model: flag('--model <name>', `model: ${listModels().join(', ')}`, model(), { required: true }),
  variant: flag('--variant <v>', `slot variant for every slot (${VARIANT_FORMS.join(' | ')}), or one per slot separated by ";"`, variant()),
  inChannels: flag('--in-channels <c>', 'input image channels', count(1, 4096), { default: '3' }),
  inputSize: flag('--input-size <s>', 'input height and width in pixels', count(1, 4096), { default: '32' }),
  classes: flag('--classes <k>', 'number of classes', count(1, 100_000), { default: '10' }),
  stem: flag('--stem <kind>', `the network's first layers: cifar or imagenet (${imagenetStemModels().join(', ')})`, stem(), { default: 'cifar' }),
  json: jsonFlag('print one JSON object instead of a table'),
};

type InspectFlags = ReturnType<typeof parseInspectFlags>;
const parseInspectFlags = (raw: unknown) => parseFlags(INSPECT_FLAGS, raw);

const fmt = (n: number): string => n.toLocaleString('en-US');
const ratio = (a: number, b: number): string => (b === 0 ? 'n/a' : `${(a / b).toPrecision(3)}x`);

export interface InspectResult {
  model: string;
  stem: Stem;
  variant: string;
  inputShape: ModelSpec['inputShape'];
  classes: number;
  hash: string;
  params: number;
  macs: number;
  flops: number;
  std: { params: number; macs: number; flops: number };
  reduction: { params: number; macs: number };
  slots: { index: number; name: string; inChannels: number; outChannels: number; stride: number; variant: string }[];
  layers: (LayerCost & { kind: string })[];
}

export function inspectModel(flags: InspectFlags): InspectResult {
  const opts = { inChannels: flags.inChannels, inputSize: flags.inputSize, classes: flags.classes, stem: flags.stem };
  // "a;b;c" gives each slot its own variant, in slot order
  const choice: VariantChoice | VariantChoice[] =
    flags.variant === undefined
      ? baselineVariant(flags.model)
      : flags.variant.includes(';')
        ? flags.variant.split(';').map(parseVariant)
        : parseVariant(flags.variant);
  const spec = buildModel(flags.model, { ...opts, variants: choice });
  const cost = countCost(spec);
  const std = countCost(buildModel(flags.model, { ...opts, variants: { kind: 'std' } }));
  return {
    model: flags.model,
    stem: opts.stem,
    variant: Array.isArray(choice) ? choice.map(formatVariant).join(';') : formatVariant(choice),
    inputShape: spec.inputShape,
    classes: spec.classes,
    hash: specHash(spec),
    params: cost.params,
    macs: cost.macs,
    flops: cost.flops,
    std: { params: std.params, macs: std.macs, flops: std.flops },
    reduction: { params: cost.params / std.params, macs: cost.macs / std.macs },
    slots: spec.slots.map((s) => ({
      index: s.index,
      name: s.name,
      inChannels: s.inChannels,
      outChannels: s.outChannels,
      stride: s.stride,
      variant: s.variant.kind === 'dw-scc' ? `dw-scc:cg=${s.variant.cg},s=${s.variant.s}` : formatVariant(s.variant),
    })),
    layers: cost.layers.map((l, i) => ({ ...l, kind: layerKind(spec.layers[i]!) })),
  };
}

export function renderInspect(r: InspectResult): string {
  const table = new Table({
    head: ['layer', 'kind', 'output', 'params', 'MACs'],
    colAligns: ['left', 'left', 'left', 'right', 'right'],
    style: { head: [], border: [], compact: true },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const l of r.layers) {
    table.push([l.name, l.kind, l.outputShape.join('x'), fmt(l.params), fmt(l.macs)]);
  }
  table.push([{ colSpan: 3, content: 'total' }, fmt(r.params), fmt(r.macs)]);
  const [c, h, w] = r.inputShape;
  const resolved = [...new Set(r.slots.map((s) => s.variant))];
  const lines = [
    `${r.model} (${describeModel(r.model, r.stem)}), variant ${r.variant}, input ${c}x${h}x${w}, ${r.classes} classes, ${r.slots.length} slots`,
  ];
  if (r.variant.startsWith('dw-scc') && resolved.length > 1) {
    lines.push(`per-slot resolution: ${resolved.join(', ')}`);
  }
  lines.push(table.toString());
  lines.push(
    `params ${fmt(r.params)} (${ratio(r.params, r.std.params)} std)   ` +
      `MACs ${fmt(r.macs)} (${ratio(r.macs, r.std.macs)} std)   FLOPs ${fmt(r.flops)}`,
  );
  lines.push(`std: params ${fmt(r.std.params)}, MACs ${fmt(r.std.macs)}; spec hash ${r.hash.slice(0, 16)}`);
  return lines.join('\n') + '\n';
}

export function registerInspect(program: Command): void {
  const cmd = program
    .command('inspect')
    .description('show a model with a slot variant: per-layer shapes, params and MACs, and the reduction vs std');
  addFlags(cmd, INSPECT_FLAGS)
    .addHelpText('after', HELP)
    .action((raw: unknown) => {
      const flags = parseInspectFlags(raw);
      const result = inspectModel(flags);
      process.stdout.write(flags.json ? JSON.stringify(result, null, 2) + '\n' : renderInspect(result));
    });
}
