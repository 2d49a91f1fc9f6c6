// Typed errors of GGUF writing, reading and HF → GGUF conversion: a stable code, the file and tensor concerned,
// and a message that reads as one sentence for the user.

export type GgufErrorCode =
  | 'GGUF_BAD_MAGIC'
  | 'GGUF_BAD_VERSION'
  | 'GGUF_TRUNCATED'
  | 'GGUF_BAD_VALUE'
  | 'GGUF_DUPLICATE'
  | 'GGUF_TENSOR_NOT_FOUND'
  | 'GGUF_SHAPE'
  | 'GGUF_UNSUPPORTED_ARCH'
  | 'GGUF_UNSUPPORTED_DTYPE'
  | 'GGUF_UNSUPPORTED_TOKENIZER'
  | 'GGUF_MISSING_FILE'
  | 'GGUF_MISSING_TENSOR'
  | 'GGUF_BAD_CONFIG'

export class GgufError extends Error {
  readonly code: GgufErrorCode
  readonly file: string | undefined
  readonly tensor: string | undefined

  constructor(code: GgufErrorCode, message: string, where: { file?: string; tensor?: string } = {}) {
    super(message)
    this.name = 'GgufError'
    this.code = code
    this.file = where.file
    this.tensor = where.tensor
  }
}
