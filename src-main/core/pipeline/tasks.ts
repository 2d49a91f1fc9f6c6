// The messages between the pipeline and its workers: compress a chunk (measuring its error on the encoder's own
// reconstruction), or decode a chunk (checking it against its recorded CRC and, if given, the original).
import type { ChunkInput } from '../codec'
import type { ChunkCodecParams } from '../codec/types'
import type { ErrorSums } from './values'

export interface CompressTask {
  kind: 'compress'
  /** The chunk: a view of a shared slot (not moved), or a mapped region of the original file. */
  bytes: ChunkInput
  /** Where the compressed chunk goes (a shared slot of at least maxCompressedChunkSize bytes). */
  target: Uint8Array
  params: ChunkCodecParams
  elementCount: number
  /** Decode the result back and check it against the encoder's measurements (a codec self-test). */
  decodeCheck: boolean
  /** The bound the measured error is checked against (default params.eb). */
  checkEb?: number
  /** CRC-32 of `bytes` when the pipeline has it already (from the range pass): the worker then skips it. */
  inputCrc?: number
  file: string
  tensor: string
}

export interface DecompressTask {
  kind: 'decompress'
  /** The compressed chunk: bytes in memory, or a mapped region of the container. */
  compressed: ChunkInput
  params: ChunkCodecParams
  elementCount: number
  decodedCrc: number
  /** The compressed chunk's recorded CRC, checked before decoding when given (chunks read from a mapping). */
  compressedCrc?: number
  /**
   * Check decodedCrc (verify jobs). Reconstruction skips it: the codec already checks every decoded chunk against
   * the checksum its encoder stored inside the chunk, which covers the same bytes.
   */
  checkCrc: boolean
  /** The original bytes of the chunk, to check the bound against. */
  original?: Uint8Array
  /** Keep the decoded bytes (false: verify only). */
  keep: boolean
  /** Where to decode when keeping the bytes (a recycled buffer of exactly the decoded size); else a fresh one. */
  target?: Uint8Array
  file: string
  tensor: string
}

export type PipelineTask = CompressTask | DecompressTask

export interface CompressResult {
  /** Bytes of the compressed chunk at the start of the task's target. */
  length: number
  decodedCrc: number
  /** CRC-32 of the task's input bytes and of the compressed chunk (the main thread combines them per tensor). */
  inputCrc: number
  compressedCrc: number
  sums: ErrorSums
  ms: number
}

export interface DecompressResult {
  decoded?: Uint8Array
  sums?: ErrorSums
  ms: number
}

export type PipelineResult = CompressResult | DecompressResult
