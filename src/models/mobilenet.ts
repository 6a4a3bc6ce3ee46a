// MobileNetV1: a 3x3 stem conv to 32 channels (stride 1 with the cifar stem, as in
// kuangliu/pytorch-cifar; stride 2 with the imagenet stem, as in Howard et al. 2017),
// thirteen separable blocks, global average pool, linear 1024 -> classes.
// Each separable block is one slot ("3x3 conv Cin -> Cout, stride st", then BN ReLU); the
// original network is the dw-pw variant in every slot, which is this model's baseline.
// Stages group the blocks by output resolution.
import type { SpecBuilder } from './builder.js';

/** [output channels, stride] of the 13 blocks */
const BLOCKS: [number, number][] = [
  [64, 1],
  [128, 2], [128, 1],
  [256, 2], [256, 1],
  [512, 2], [512, 1], [512, 1], [512, 1], [512, 1], [512, 1],
  [1024, 2], [1024, 1],
];

export const MOBILENET_MODELS = ['mobilenetv1'];

export function buildMobilenet(b: SpecBuilder): void {
  let t = b.conv('stem.conv', 0, { out: 32, kernel: 3, stride: b.stem === 'imagenet' ? 2 : 1 });
  t = b.relu('stem.relu', b.bn('stem.bn', t));
  let stage = 1;
  BLOCKS.forEach(([out, stride], i) => {
    if (stride !== 1) stage++;
    const name = `block${i + 1}`;
    t = b.slot(name, stage, t, out, stride);
    t = b.relu(`${name}.relu`, b.bn(`${name}.bn`, t));
  });
  t = b.gap('gap', t);
  b.linear('fc', t, b.classes);
}
