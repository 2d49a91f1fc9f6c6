// Typed errors of the compressed container: every damaged or unknown byte ends here, with the file and tensor named.

export type ContainerErrorCode =
  | 'NOT_A_CONTAINER'
  | 'UNSUPPORTED_VERSION'
  | 'TRUNCATED'
  | 'CORRUPT_PREAMBLE'
  | 'CORRUPT_HEADER'
  | 'CORRUPT_INDEX'
  | 'CORRUPT_CHUNK'
  | 'DECODED_MISMATCH'
  | 'TENSOR_CHECKSUM_MISMATCH'
  | 'INCONSISTENT'
  | 'TENSOR_NOT_FOUND'
  | 'DECODE_FAILED'

export class ContainerError extends Error {
  override readonly name = 'ContainerError'
  constructor(
    readonly code: ContainerErrorCode,
    message: string,
    readonly file: string,
    readonly tensor?: string,
  ) {
    super(`${message} (${file}${tensor ? `, tensor ${tensor}` : ''})`)
  }
}
