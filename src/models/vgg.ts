// CIFAR-style VGG-11/13/16/19 (as in kuangliu/pytorch-cifar): 3x3 convs with BN and ReLU,
// a 2x2 max-pool closing each of the five stages, then a 512 -> classes linear layer.
// The first conv (input channels -> 64) is the stem, not a slot (the stem conv and the
// classifier never are, README.md, Variants); every later 3x3 conv is a slot.
import type { SpecBuilder } from './builder.js';

/** Output channels of each conv, stage by stage. */
const CONFIGS: Record<string, number[][]> = {
  vgg11: [[64], [128], [256, 256], [512, 512], [512, 512]],
  vgg13: [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
  vgg16: [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
  vgg19: [[64, 64], [128, 128], [256, 256, 256, 256], [512, 512, 512, 512], [512, 512, 512, 512]],
};

export const VGG_MODELS = Object.keys(CONFIGS);

export function buildVgg(b: SpecBuilder, depth: string): void {
  const stages = CONFIGS[depth]!;
  let t = b.conv('stem.conv', 0, { out: stages[0]![0]!, kernel: 3 });
  t = b.bn('stem.bn', t);
  t = b.relu('stem.relu', t);
  stages.forEach((widths, si) => {
    const stage = si + 1;
    widths.forEach((width, ci) => {
      if (stage === 1 && ci === 0) return; // the stem
      const name = `stage${stage}.conv${ci + 1}`;
      t = b.slot(name, stage, t, width, 1);
      t = b.bn(`${name}.bn`, t);
      t = b.relu(`${name}.relu`, t);
    });
    t = b.maxpool(`stage${stage}.pool`, t, 2, 2);
  });
  // At 32x32 input the last pool leaves 1x1; larger inputs are averaged down to keep the
  // classifier 512 -> classes.
  if (b.shape(t)[1] > 1 || b.shape(t)[2] > 1) t = b.gap('gap', t);
  b.linear('fc', t, b.classes);
}
