// The one error type of the safetensors layer: a stable code, the file (and tensor) it concerns, and a message
// that reads as one sentence to the user.

export type SafetensorsErrorCode =
  | 'HEADER_TOO_SMALL'
  | 'HEADER_TOO_LARGE'
  | 'INVALID_HEADER_LENGTH'
  | 'INVALID_HEADER'
  | 'INVALID_HEADER_DESERIALIZATION'
  | 'UNKNOWN_DTYPE'
  | 'DUPLICATE_TENSOR'
  | 'INVALID_OFFSET'
  | 'VALIDATION_OVERFLOW'
  | 'MISALIGNED_SLICE'
  | 'TENSOR_INVALID_INFO'
  | 'INCOMPLETE_BUFFER'
  | 'TENSOR_NOT_FOUND'
  | 'IO_ERROR'
  | 'INDEX_INVALID'
  | 'SHARD_MISSING'
  | 'TENSOR_MISSING_FROM_SHARD'
  | 'TENSOR_NOT_IN_INDEX'
  | 'RANGE_OUT_OF_BOUNDS'

export class SafetensorsError extends Error {
  readonly code: SafetensorsErrorCode
  readonly file: string
  readonly tensor?: string

  constructor(code: SafetensorsErrorCode, file: string, message: string, tensor?: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'SafetensorsError'
    this.code = code
    this.file = file
    if (tensor !== undefined) this.tensor = tensor
  }
}

/** Quotes a tensor name for a message; long names are shortened so a hostile header cannot flood a log line. */
export function q(name: string): string {
  const s = name.length > 200 ? `${name.slice(0, 200)}…` : name
  return JSON.stringify(s)
}

/** Wraps a Node I/O failure (ENOENT, EACCES, EIO…) as IO_ERROR for the given file. */
export function ioError(file: string, what: string, err: unknown, tensor?: string): SafetensorsError {
  if (err instanceof SafetensorsError) return err
  const detail = err instanceof Error ? err.message : String(err)
  return new SafetensorsError('IO_ERROR', file, `Could not ${what} ${file}: ${detail}.`, tensor, err)
}
