// The sweep runner's public face.
export { runSweep, runWorker, type RunnerOptions, type WorkerOptions, type SweepEvent, type SweepProgress, type SweepSummary } from './runner.js';
export { advance, aggregate, finishedResults, trialsFor, ROUND_KIND, rungKind } from './schedule.js';
export { configHash, recipeHash, rungEpochs, trialRecipe } from './identity.js';
export { StopControl, handleStopSignals, stopExitCode, type StopSignal } from './stop.js';
export { exitStopped, installStop } from './stopping.js';
export { ReplayTable, checkCoverage, replayTrial } from './replay.js';
