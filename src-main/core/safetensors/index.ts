// core/safetensors: our own reader and writer of Hugging Face safetensors files and sharded models, with the
// reference implementation's validation rules and byte-identical output.

export { DTYPE_BITS, DTYPE_REFERENCE_ORDER, type Dtype, dtypeRank, isDtype } from './dtypes'
export { SafetensorsError, type SafetensorsErrorCode } from './errors'
export { SafetensorsFile } from './file'
export {
  type BuildHeaderOptions,
  buildHeader,
  compareUtf8,
  detectHeaderLayout,
  type HeaderLayout,
  MAX_HEADER_SIZE,
  parseHeader,
  type SafetensorsHeader,
  type TensorInfo,
  type TensorSpec,
} from './header'
export {
  INDEX_NAME,
  type LocatedTensor,
  readShardIndex,
  ShardedSafetensors,
  type ShardIndex,
} from './sharded'
export { SafetensorsWriter, type WriterOptions, writeSafetensors } from './writer'
