// core/rd: rate–distortion of a model (bits per weight as stored against KL divergence and perplexity ratio, for
// lossy runs, Q8_0 and Q4_0) and auto-tuning of a plan to a fidelity target, all measured on one bench.
export { type BenchOptions, FidelityBench, type FidelityMetrics } from './bench'
export { type SelfTextOptions, sampleText } from './self-text'
export {
  type BaselineType,
  compareAtBaselines,
  findingText,
  type RdOptions,
  type RdResult,
  type RdRow,
  rateDistortion,
  rdCsv,
  rdPlan,
} from './study'
export {
  autoTune,
  meetsTarget,
  TuneError,
  type TuneOptions,
  type TuneResult,
  type TuneStep,
  type TuneTarget,
  tunedPlan,
} from './tune'
export {
  EXACT_SMALL_TENSORS,
  type GroupSize,
  type LossyPoint,
  measureRun,
  sizeOfRun,
  weightMatrices,
} from './variant'
