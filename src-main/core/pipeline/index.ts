// core/pipeline: compress whole models in worker threads into containers, reconstruct and verify them, record runs
// and sweeps. The CLI, the app service and the tests all call these functions.
export {
  type CompressJobOptions,
  type CompressJobOutcome,
  compressModel,
  type JobProgress,
  TOOL_VERSION,
} from './compress'
export { type CompressedModel, DESCRIPTOR_NAME, readDescriptor } from './compressed-model'
export {
  type DecodeJobOptions,
  type DecodeReport,
  decompressModel,
  ReconstructError,
  type TensorCheck,
  verifyModel,
} from './decompress'
export { createPipelinePool, DEFAULT_CHUNK_ELEMENTS, type PipelinePool } from './pool'
export { metricsCsv, type RunManifest, type ShardTotals, type TensorMetrics } from './runs'
export { type PlanVariant, type SweepOptions, type SweepResult, type SweepRow, sweepCsv, sweepModel } from './sweep'
