// Library entry point: `import { sccForward, sccBackward } from 'dsxplore'`.
export type { ModelSpec, Layer, Slot, Variant } from './models/spec.js';
export {
  sccForward,
  sccBackward,
  channelStrideFromOverlap,
  parseSccShape,
  type SccShape,
} from './engine/ops.js';
