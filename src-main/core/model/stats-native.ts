// The native statistics kernel (native/stats, build/Release/shardpress_stats.node): code counting and the value
// scan in C++, with results identical to the JavaScript in stats.ts, which remains the fallback when the addon is
// missing and the oracle in tests. SHARDPRESS_STATS_KERNEL=js forces the JavaScript path.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

/** Version the TypeScript side expects (the addon exports `statsKernelVersion`). */
const KERNEL_VERSION = 3

export interface StatsKernel {
  /** Adds the little-endian codes of `bytes` (1 or 2 bytes each) to `counts` (256 or 65536 bins). */
  countCodes(bytes: Uint8Array, width: 1 | 2, counts: Uint32Array): void
  /** Adds FP8 codes of whole rows per scale block; counts are [blockRow − blockRowStart][blockCol][256]. */
  countBlockCodes(
    bytes: Uint8Array,
    rowStart: number,
    cols: number,
    blockRows: number,
    blockCols: number,
    scaleCols: number,
    blockRowStart: number,
    counts: Uint32Array,
  ): void
  /**
   * countBlockCodes over `rows` whole rows at byte `position` of the open file `fd`, mapped instead of read, also
   * storing the codes at the byte offsets `samples` (relative to `position`) into `codes`. Returns false, having
   * done nothing, where mapping is unavailable (not Linux, mmap refused, file shorter than the range).
   */
  countBlockCodesAt(
    fd: number,
    position: number,
    rows: number,
    rowStart: number,
    cols: number,
    blockRows: number,
    blockCols: number,
    scaleCols: number,
    blockRowStart: number,
    counts: Uint32Array,
    samples: Float64Array,
    codes: Uint8Array,
  ): boolean
  /** out = [finite, sum, min, max, zeros, nan, +inf, −inf] of values[start, end). */
  scanPass1(values: Float32Array | Float64Array, start: number, end: number, out: Float64Array): void
  /** Adds finite values[start, end) to the fine histogram; returns their squared deviations from `mean`. */
  scanPass2(
    values: Float32Array | Float64Array,
    start: number,
    end: number,
    mean: number,
    lo: number,
    inv: number,
    counts: Float64Array,
  ): number
  /** Pass 1 of a block-scaled FP8 finish: acc = [finite, sum, min, max, zeros, nan, +inf, −inf], continued. */
  blockPass1(
    counts: Uint32Array,
    blockRowStart: number,
    scaleCols: number,
    scales: Float32Array,
    table: Float64Array,
    acc: Float64Array,
  ): void
  /** Pass 2: adds to `hist` and returns `m2` plus the squared deviations from `mean`. */
  blockPass2(
    counts: Uint32Array,
    blockRowStart: number,
    scaleCols: number,
    scales: Float32Array,
    table: Float64Array,
    mean: number,
    min: number,
    binScale: number,
    m2: number,
    hist: Float64Array,
  ): number
  /**
   * Statistics of a whole F8_E4M3 tensor of rows × cols bytes at byte `position` of the open file `fd`, mapped and
   * scanned with vector code instead of counted: out = [finite, sum, min, max, zeros, nan, +inf, −inf, mean, m2],
   * hist its bins; identical to blockPass1/blockPass2 over the code counts. Stores the sample codes like
   * countBlockCodesAt. Returns false, having done nothing, where that path does not apply (no AVX2, not Linux, a
   * block layout it does not cover, mapping refused): the caller then counts codes.
   */
  blockStatsAt(
    fd: number,
    position: number,
    rows: number,
    cols: number,
    blockRows: number,
    blockCols: number,
    scaleCols: number,
    scales: Float32Array,
    table: Float64Array,
    samples: Float64Array,
    codes: Uint8Array,
    out: Float64Array,
    hist: Float64Array,
  ): boolean
  statsKernelVersion: number
  /** The vector scan blockStatsAt uses here: 'avx512', 'avx2' or 'none' (then FP8 block codes are counted). */
  vectorPath: string
}

export type KernelChoice = 'auto' | 'native' | 'js'

// Walks up from this file to the folder holding build/Release (works from src-main/core/model and from out/main).
function findAddon(): string | undefined {
  const override = process.env.SHARDPRESS_STATS_ADDON
  if (override) return override
  let dir = import.meta.dirname
  for (;;) {
    const candidate = join(dir, 'build', 'Release', 'shardpress_stats.node')
    if (existsSync(candidate)) return candidate
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

let loaded: StatsKernel | null | undefined
let choice: KernelChoice = process.env.SHARDPRESS_STATS_KERNEL === 'js' ? 'js' : 'auto'

function load(): StatsKernel | null {
  if (loaded !== undefined) return loaded
  loaded = null
  const path = findAddon()
  if (!path) return loaded
  try {
    const k = createRequire(import.meta.url)(path) as StatsKernel
    // A stale build from another version is ignored rather than trusted: the JavaScript path is always correct.
    if (k.statsKernelVersion === KERNEL_VERSION) loaded = k
  } catch {
    // Built for another Node ABI or platform: fall back to JavaScript.
  }
  return loaded
}

/** The kernel to use now, or null for the JavaScript path. */
export function statsKernel(): StatsKernel | null {
  return choice === 'js' ? null : load()
}

/** Picks the implementation ('auto': native when built). 'native' throws when the addon cannot be loaded. */
export function setStatsKernel(c: KernelChoice): void {
  if (c === 'native' && !load()) {
    const err = new Error(
      'The native statistics kernel (build/Release/shardpress_stats.node) is not built; run `npx node-gyp rebuild`.',
    ) as Error & { code: string }
    err.code = 'ADDON_MISSING'
    throw err
  }
  choice = c
}

/** True when statistics currently run in the native kernel. */
export function nativeStatsActive(): boolean {
  return statsKernel() !== null
}
