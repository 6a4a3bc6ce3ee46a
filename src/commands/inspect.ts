// `dsxplore inspect`: one model with one slot variant, layer by layer, with its analytic
// cost and the reduction against the same model built with `std` convs in every slot.
import { isTTY, textTable } from '../report/text-table.js';
import type { Command } from 'commander';
import { inspectModel, type InspectResult } from '../cost/inspect.js';
import { addFlags, flag, jsonFlag, parseFlags } from '../config/flags.js';
import { count, model, stem, variant } from '../config/rules.js';
import { describeModel, imagenetStemModels, listModels, VARIANT_FORMS } from '../models/index.js';

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


const fmt = (n: number): string => n.toLocaleString('en-US');
const ratio = (a: number, b: number): string => (b === 0 ? 'n/a' : `${(a / b).toPrecision(3)}x`);

/** `tty`: a bordered table (src/report/text-table.ts); plain columns otherwise. */
export function renderInspect(r: InspectResult, { tty = false }: { tty?: boolean } = {}): string {
  const table = textTable(
    [...r.layers.map((l) => [l.name, l.kind, l.outputShape.join('x'), fmt(l.params), fmt(l.macs)]), ['total', '', '', fmt(r.params), fmt(r.macs)]],
    { head: ['layer', 'kind', 'output', 'params', 'MACs'], align: ['left', 'left', 'left', 'right', 'right'], tty },
  );
  const [c, h, w] = r.inputShape;
  const resolved = [...new Set(r.slots.map((s) => s.variant))];
  const lines = [
    `${r.model} (${describeModel(r.model, r.stem)}), variant ${r.variant}, input ${c}x${h}x${w}, ${r.classes} classes, ${r.slots.length} slots`,
  ];
  if (r.variant.startsWith('dw-scc') && resolved.length > 1) {
    lines.push(`per-slot resolution: ${resolved.join(', ')}`);
  }
  lines.push(table);
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
      const flags = parseFlags(INSPECT_FLAGS, raw);
      const result = inspectModel(flags);
      process.stdout.write(flags.json ? JSON.stringify(result, null, 2) + '\n' : renderInspect(result, { tty: isTTY() }));
    });
}
