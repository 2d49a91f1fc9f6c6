// The codec's typed contract: what the native addon (native/) does, as the rest of core sees it.
// The pipeline streams tensors chunk by chunk through these functions; tools and tests may use the
// whole-tensor helpers built on top of them.

/** Element types the codec reads and writes natively (no silent upcast). */
export type CodecDtype = 'BF16' | 'F16' | 'F32' | 'F64' | 'F8_E4M3' | 'F8_E5M2'

/** How the user states the bound. 'rel' is SZ3's REL: eb = bound × (max − min) of the whole tensor. */
export type ErrorMode = 'lossless' | 'abs' | 'rel'

/**
 * FP8 block scales (DeepSeek-V3 style): the tensor is a [rows, cols] matrix of FP8 codes whose real value is
 * code × scales[⌊r / blockRows⌋ × scaleCols + ⌊c / blockCols⌋]. Bounds then hold in these dequantized units and
 * the reconstruction is again FP8 codes under the same scales.
 */
export interface Fp8BlockScales {
  cols: number
  blockRows: number
  blockCols: number
  /** Number of columns of the scale grid: ⌈cols / blockCols⌉. */
  scaleCols: number
  /** The whole scale grid, row-major, float32. */
  scales: Float32Array
}

/** Everything needed to encode or decode one chunk; the container stores it per tensor. */
export interface ChunkCodecParams {
  dtype: CodecDtype
  /** 'lossless', or 'abs' with the resolved absolute bound eb (a 'rel' bound is resolved by the caller). */
  mode: 'lossless' | 'abs'
  /** Absolute error bound in value units (ignored when lossless). */
  eb: number
  /** Elements per row of the tensor (its last dimension); lets the codec model per-row/per-column context. */
  rowLength: number
  /** Index of the chunk's first element within the whole tensor (chunks start on row boundaries). */
  firstElement: number
  /** Present for FP8 weights that have block scales. */
  fp8?: Fp8BlockScales
  /** Tests only: encode block-scaled FP8 as chunk version 1 did (linear index, codes it cannot place stored raw),
   *  to check that such chunks keep decoding. */
  fp8Linear?: boolean
  /**
   * 'F32': a BF16/F16 chunk decodes to F32 (4 bytes per element) instead of its own dtype. Bins then need not have
   * a centre representable in BF16/F16, only in F32: where a BF16 ulp is near the bound a bin holds twice the
   * codes, so the same bound costs fewer bits (SZ3's setting: it reconstructs floats). Every F32 value is within
   * eb of the original; NaN, ±Inf, −0 and values stored exactly come back as their exact F32 widening. The chunk
   * records it (version 4) and decodes only with the same setting. Not with 'compressChunkMeasured'.
   */
  outputDtype?: 'F32'
}

/** Error sums of one chunk (original vs reconstruction); combined across chunks into a tensor's metrics. */
export interface ErrorSums {
  count: number
  sumAbs: number
  sumSq: number
  maxAbs: number
  /** Values whose error exceeds the bound, or whose NaN/Inf did not survive. */
  over: number
  /** Range of the original finite values (dequantized for FP8 with block scales). */
  min: number
  max: number
}

/** What compressChunkMeasured returns: the chunk and what its decoder will produce, measured without decoding. */
export interface MeasuredChunk {
  /** Byte-identical to compressChunk's output. */
  compressed: Uint8Array
  /** zlib CRC-32 (unsigned) of the bytes decompressChunk will return. */
  decodedCrc: number
  /** zlib CRC-32 (unsigned) of the input bytes. */
  inputCrc: number
  /** zlib CRC-32 (unsigned) of `compressed`. */
  compressedCrc: number
  /** compareChunk(input, decoded, dtype, checkEb, firstElement, fp8) from pipeline/values.ts (sameErrorSums). */
  sums: ErrorSums
}
