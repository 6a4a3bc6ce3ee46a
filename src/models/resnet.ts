// ResNet-18/34/50. With the cifar stem (as in kuangliu/pytorch-cifar): a 3x3 stride-1 stem
// conv and no max-pool; with the imagenet stem exactly as torchvision builds them: a 7x7
// stride-2 conv (padding 3), BN, ReLU and a 3x3 stride-2 max-pool (padding 1). Then four stages of 64-128-256-512 planes, projection shortcuts (1x1 conv + BN)
// where the shape changes, global average pool, linear classifier.
// Slots: every 3x3 conv in the blocks; in ResNet-50's bottlenecks only the middle 3x3 conv
// is a slot (the 1x1 reduce/expand convs are fixed) and carries the block's stride, as in
// torchvision's ResNet v1.5.
import type { SpecBuilder } from './builder.js';

const BLOCKS: Record<string, { bottleneck: boolean; blocks: number[] }> = {
  resnet18: { bottleneck: false, blocks: [2, 2, 2, 2] },
  resnet34: { bottleneck: false, blocks: [3, 4, 6, 3] },
  resnet50: { bottleneck: true, blocks: [3, 4, 6, 3] },
};

export const RESNET_MODELS = Object.keys(BLOCKS);

const PLANES = [64, 128, 256, 512];

export function buildResnet(b: SpecBuilder, depth: string): void {
  const { bottleneck, blocks } = BLOCKS[depth]!;
  const expansion = bottleneck ? 4 : 1;
  let t =
    b.stem === 'imagenet'
      ? b.conv('stem.conv', 0, { out: 64, kernel: 7, stride: 2, padding: 3 })
      : b.conv('stem.conv', 0, { out: 64, kernel: 3 });
  t = b.bn('stem.bn', t);
  t = b.relu('stem.relu', t);
  if (b.stem === 'imagenet') t = b.maxpool('stem.pool', t, 3, 2, 1);
  blocks.forEach((count, si) => {
    const stage = si + 1;
    const planes = PLANES[si]!;
    for (let bi = 0; bi < count; bi++) {
      const stride = bi === 0 && si > 0 ? 2 : 1;
      const p = `stage${stage}.block${bi + 1}`;
      const x = t;
      let y: number;
      if (bottleneck) {
        y = b.conv(`${p}.conv1`, x, { out: planes, kernel: 1 });
        y = b.relu(`${p}.conv1.relu`, b.bn(`${p}.conv1.bn`, y));
        y = b.slot(`${p}.conv2`, stage, y, planes, stride);
        y = b.relu(`${p}.conv2.relu`, b.bn(`${p}.conv2.bn`, y));
        y = b.conv(`${p}.conv3`, y, { out: planes * expansion, kernel: 1 });
        y = b.bn(`${p}.conv3.bn`, y);
      } else {
        y = b.slot(`${p}.conv1`, stage, x, planes, stride);
        y = b.relu(`${p}.conv1.relu`, b.bn(`${p}.conv1.bn`, y));
        y = b.slot(`${p}.conv2`, stage, y, planes, 1);
        y = b.bn(`${p}.conv2.bn`, y);
      }
      let short = x;
      if (stride !== 1 || b.shape(x)[0] !== planes * expansion) {
        short = b.conv(`${p}.shortcut`, x, { out: planes * expansion, kernel: 1, stride, padding: 0 });
        short = b.bn(`${p}.shortcut.bn`, short);
      }
      t = b.relu(`${p}.relu`, b.add(`${p}.add`, y, short));
    }
  });
  t = b.gap('gap', t);
  b.linear('fc', t, b.classes);
}
