// core/container: the compressed container format (docs/FORMAT.md), its writer and its checking reader.
export { ContainerError, type ContainerErrorCode } from './errors'
export {
  type ChunkEntry,
  CONTAINER_SUFFIX,
  CONTAINER_VERSION,
  type ContainerIndex,
  type Fp8Link,
  type StorageMethod,
  type TensorRecord,
} from './format'
export { ContainerReader } from './reader'
export { ContainerWriter } from './writer'
