// core/gguf: our GGUF v3 writer and reader, ggml's Q8_0/Q4_0 reference blocks, and HF → GGUF conversion.

export { type Architecture, architectureFor, type HfConfig } from './architectures'
export { GgmlType, GgufFileType, TokenType, tensorByteLength } from './constants'
export {
  type ConvertedTensor,
  type ConvertOptions,
  type ConvertResult,
  convertToGguf,
  decodeToF32,
  GGUF_OUTPUT_TYPES,
  type GgufOutputType,
  readConfig,
  storageType,
  unpermuteHeads,
} from './convert'
export { GgufError, type GgufErrorCode } from './errors'
export * from './quant'
export { GgufFile, type GgufTensorInfo } from './reader'
export { openSafetensorsSource, type SourceTensor, type TensorSource } from './source'
export { classifyPreTokenizer, type GgufVocab, loadVocab, writeVocab } from './tokenizer'
export { type GgufKv, type GgufScalar, type GgufTensorSpec, type GgufWriteResult, GgufWriter } from './writer'
