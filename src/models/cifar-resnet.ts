// He et al.'s CIFAR ResNets (ResNet-20/32/44/56/110, depth = 6n+2): a 3x3 stem to 16
// channels, three stages of n basic blocks at 16-32-64 channels, option A shortcuts (every
// other pixel, channels zero-padded evenly: no parameters), global average pool, linear.
// Slots: both 3x3 convs of every block.
import type { SpecBuilder } from './builder.js';

const DEPTHS: Record<string, number> = { resnet20: 20, resnet32: 32, resnet44: 44, resnet56: 56, resnet110: 110 };

export const CIFAR_RESNET_MODELS = Object.keys(DEPTHS);

const WIDTHS = [16, 32, 64];

export function buildCifarResnet(b: SpecBuilder, name: string): void {
  const n = (DEPTHS[name]! - 2) / 6;
  let t = b.conv('stem.conv', 0, { out: 16, kernel: 3 });
  t = b.relu('stem.relu', b.bn('stem.bn', t));
  WIDTHS.forEach((planes, si) => {
    const stage = si + 1;
    for (let bi = 0; bi < n; bi++) {
      const stride = bi === 0 && si > 0 ? 2 : 1;
      const p = `stage${stage}.block${bi + 1}`;
      const x = t;
      let y = b.slot(`${p}.conv1`, stage, x, planes, stride);
      y = b.relu(`${p}.conv1.relu`, b.bn(`${p}.conv1.bn`, y));
      y = b.slot(`${p}.conv2`, stage, y, planes, 1);
      y = b.bn(`${p}.conv2.bn`, y);
      const short = stride !== 1 || b.shape(x)[0] !== planes ? b.shortcutA(`${p}.shortcut`, x, stride, planes) : x;
      t = b.relu(`${p}.relu`, b.add(`${p}.add`, y, short));
    }
  });
  t = b.gap('gap', t);
  b.linear('fc', t, b.classes);
}
