// GGUF v3 and ggml numeric constants (FORMATS.md §B, §D): value type ids, tensor type ids, block sizes, file types.

export const GGUF_MAGIC = 0x46554747
export const GGUF_VERSION = 3
export const GGUF_DEFAULT_ALIGNMENT = 32

/** GGUF metadata value types, by their on-disk id. */
export const GgufValueType = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  str: 8,
  arr: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const
export type GgufScalarType = Exclude<keyof typeof GgufValueType, 'arr'>

/** ggml tensor types we write or read. */
export const GgmlType = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30 } as const
export type GgmlTypeName = keyof typeof GgmlType

/** Elements per block and bytes per block of each type. */
export const GGML_BLOCK: Record<number, { elements: number; bytes: number; name: GgmlTypeName }> = {
  0: { elements: 1, bytes: 4, name: 'F32' },
  1: { elements: 1, bytes: 2, name: 'F16' },
  2: { elements: 32, bytes: 18, name: 'Q4_0' },
  8: { elements: 32, bytes: 34, name: 'Q8_0' },
  30: { elements: 1, bytes: 2, name: 'BF16' },
}

/** `general.file_type` values (llama_ftype). */
export const GgufFileType = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7, BF16: 32 } as const

/** Token types of `tokenizer.ggml.token_type`. */
export const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const

/** Bytes a tensor of `type` with ggml dims `ne` takes; ne[0] must be a whole number of blocks. */
export function tensorByteLength(type: number, ne: readonly number[]): number {
  const block = GGML_BLOCK[type]
  if (!block) throw new RangeError(`unknown ggml type ${type}`)
  const count = ne.reduce((a, b) => a * b, 1)
  if ((ne[0] ?? 1) % block.elements !== 0) throw new RangeError(`ne[0]=${ne[0]} is not a multiple of ${block.elements}`)
  return (count / block.elements) * block.bytes
}

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment
}
