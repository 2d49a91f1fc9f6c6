// Errors of model discovery and inventory: a stable code, the file (and tensor) concerned, one readable sentence.

export type ModelErrorCode = 'NOT_FOUND' | 'NOT_A_MODEL' | 'CONFIG_INVALID' | 'SCALE_MISMATCH' | 'READ_FAILED'

export class ModelError extends Error {
  readonly code: ModelErrorCode
  readonly file: string
  readonly tensor?: string

  constructor(code: ModelErrorCode, file: string, message: string, tensor?: string) {
    super(message)
    this.name = 'ModelError'
    this.code = code
    this.file = file
    if (tensor !== undefined) this.tensor = tensor
  }
}
