// core/eval: fidelity of model variants on node-llama-cpp (CPU): perplexity, KL divergence against a reference,
// top-1 agreement, Δp, greedy generations compared side by side, speed and memory.

export {
  defaultCacheDir,
  EvalInputError,
  type EvaluateOptions,
  type EvaluationReport,
  evaluateModels,
  ggufBitsPerWeight,
  type ModelInput,
  resolveGguf,
  type VariantResult,
} from './evaluate'
export {
  compareGenerations,
  type Generation,
  type GenerationComparison,
  type GenerationRun,
  type GenerationSummary,
  generateGreedy,
} from './generate'
export { bleu, firstDivergence, lcsLength, meanWithError, percentile, rougeL, words } from './metrics'
export {
  type DivergenceResult,
  divergencePass,
  type PerplexityResult,
  perplexity,
  planChunks,
  planDocuments,
  ReferenceDistributions,
  referencePass,
  type ScoringWindow,
  type TextPlan,
  TextTooShortError,
} from './perplexity'
export { outputsText, summaryCsv, writeEvaluationFiles } from './report'
export { EvalSession, LoadedModel, type SessionOptions } from './runtime'
