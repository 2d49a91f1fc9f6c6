// What measuring costs the compress workers: one-core CPU ns per element of compressChunk against
// compressChunkMeasured (the same chunk plus its decoded CRC-32 and error sums) on one tensor, chunked as the
// pipeline does. Usage: node --import tsx scripts/bench-measure.ts <file.safetensors> [tensor name] [rel bound]
// (default: the first codec tensor, REL 1e-3; FP8 tensors take their `_scale_inv` grid in 128 × 128 blocks).
import { closeSync, openSync, readSync } from 'node:fs'
import {
  type ChunkCodecParams,
  type CodecDtype,
  compressChunk,
  compressChunkMeasured,
  DEFAULT_CHUNK_ELEMENTS,
  type Fp8BlockScales,
  finiteRange,
  resolveBound,
} from '../src-main/core/codec/index'

type Entry = { dtype: string; shape: number[]; data_offsets: [number, number] }
const [path, wantedArg, boundArg] = process.argv.slice(2)
const wanted = wantedArg === '-' ? undefined : wantedArg
if (!path) throw new Error('usage: bench-measure.ts <file.safetensors> [tensor|-] [mode:bound]')
const fd = openSync(path, 'r')
const len = Buffer.alloc(8)
readSync(fd, len, 0, 8, 0)
const headerLen = Number(len.readBigUInt64LE(0))
const header = Buffer.alloc(headerLen)
readSync(fd, header, 0, headerLen, 8)
const meta = JSON.parse(header.toString('utf8')) as Record<string, Entry>
const codec = ['BF16', 'F16', 'F32', 'F64', 'F8_E4M3', 'F8_E5M2']
const name =
  wanted ??
  Object.keys(meta).find(
    (k) => k !== '__metadata__' && codec.includes(meta[k]?.dtype ?? '') && !k.endsWith('_scale_inv'),
  )
const t = name ? meta[name] : undefined
if (!name || !t) throw new Error(`${path}: no tensor ${wanted ?? ''}`)
const read = (e: Entry) => {
  const [a, b] = e.data_offsets
  const data = new Uint8Array(b - a)
  readSync(fd, data, 0, b - a, 8 + headerLen + a)
  return data
}
const data = read(t)
const dtype = t.dtype as CodecDtype
let fp8: Fp8BlockScales | undefined
const scaleEntry = meta[`${name}_scale_inv`]
if (scaleEntry) {
  const raw = read(scaleEntry)
  const scales = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4)
  fp8 = { cols: t.shape[1] ?? 1, blockRows: 128, blockCols: 128, scaleCols: scaleEntry.shape[1] ?? 1, scales }
}
closeSync(fd)

const width = data.byteLength / t.shape.reduce((a, b) => a * b, 1)
const rowLength = t.shape[t.shape.length - 1] ?? 1
const total = data.byteLength / width
const range = finiteRange(dtype, data, fp8)
const [mode, bound] = (boundArg ?? 'rel:1e-3').split(':')
const eb = resolveBound(mode === 'abs' ? 'abs' : 'rel', Number(bound), range.min, range.max)
const rowsPerChunk = Math.max(1, Math.floor(DEFAULT_CHUNK_ELEMENTS / rowLength))
const chunks: { bytes: Uint8Array; p: ChunkCodecParams }[] = []
for (let first = 0; first < total; first += rowsPerChunk * rowLength) {
  const n = Math.min(rowsPerChunk * rowLength, total - first)
  const p: ChunkCodecParams = { dtype, mode: 'abs', eb, rowLength, firstElement: first, ...(fp8 ? { fp8 } : {}) }
  chunks.push({ bytes: data.subarray(first * width, (first + n) * width), p })
}

/** Best-of-reps CPU seconds (user + system) of fn: the machine is shared, so wall time is not the figure. */
function best(fn: () => void, reps: number): number {
  let s = Number.POSITIVE_INFINITY
  fn()
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage()
    fn()
    const c = process.cpuUsage(c0)
    s = Math.min(s, (c.user + c.system) / 1e6)
  }
  return s
}
const reps = Math.max(5, Math.ceil(1e8 / data.byteLength))
// Interleaved, so a burst of load on the shared machine hits both variants alike.
let plain = Number.POSITIVE_INFINITY
let measured = Number.POSITIVE_INFINITY
for (let round = 0; round < 3; round++) {
  plain = Math.min(
    plain,
    best(() => {
      for (const c of chunks) compressChunk(c.bytes, c.p)
    }, reps),
  )
  measured = Math.min(
    measured,
    best(() => {
      for (const c of chunks) compressChunkMeasured(c.bytes, c.p, eb)
    }, reps),
  )
}
const ns = (s: number) => (s * 1e9) / total
console.log(
  JSON.stringify({
    tensor: name,
    dtype,
    elements: total,
    mode,
    eb,
    compressNsPerElement: +ns(plain).toFixed(3),
    measuredNsPerElement: +ns(measured).toFixed(3),
    measuringNsPerElement: +(ns(measured) - ns(plain)).toFixed(3),
  }),
)
