// The element types a safetensors file can declare, with their sizes in bits and the reference writer's
// ordering (huggingface/safetensors `Dtype`, whose declaration order is "increasing alignment").

export type Dtype =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'F8_E5M2'
  | 'F8_E4M3'
  | 'F8_E8M0'
  | 'F8_E4M3FNUZ'
  | 'F8_E5M2FNUZ'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'C64'
  | 'F64'
  | 'I64'
  | 'U64'
  | 'F4'
  | 'F6_E2M3'
  | 'F6_E3M2'

export const DTYPE_BITS: Record<Dtype, number> = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
}

/**
 * The reference enum's declaration order. Its writer sorts tensors by this rank, highest first, so that every
 * tensor starts naturally aligned; ties are broken by name.
 */
export const DTYPE_REFERENCE_ORDER: readonly Dtype[] = [
  'BOOL',
  'F4',
  'F6_E2M3',
  'F6_E3M2',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'F8_E4M3FNUZ',
  'F8_E5M2FNUZ',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'C64',
  'F64',
  'I64',
  'U64',
]

const RANK = new Map<string, number>(DTYPE_REFERENCE_ORDER.map((d, i) => [d, i]))

/** Position of the dtype in the reference enum (higher = larger alignment, written first). */
export function dtypeRank(dtype: Dtype): number {
  return RANK.get(dtype) ?? -1
}

export function isDtype(s: string): s is Dtype {
  return RANK.has(s)
}
