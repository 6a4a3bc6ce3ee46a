// Public face of the engine: training, evaluation and state layout of model specs on the
// native executor, plus the types they exchange.
export type * from './types.js';
export { addon, addonPath } from './addon.js';
export {
  train,
  evaluate,
  paramCount,
  stateSize,
  stateLayout,
  debugStep,
  type StateEntry,
  type StateLayout,
  type DebugStepRequest,
  type DebugStepResult,
} from './net.js';
export * from './checkpoint.js';
export { forwardLogits, timeForwards, type ForwardRequest, type LatencyRequest, type LatencySamples } from './infer.js';
export {
  sccForward,
  sccBackward,
  runOp,
  setOpThreads,
  opsInfo,
  parseSccShape,
  channelStrideFromOverlap,
  type SccShape,
  type OpName,
} from './ops.js';
export { buildInfo, collectDoctorReport, formatDoctorReport, type BuildInfo, type DoctorReport } from './doctor.js';
