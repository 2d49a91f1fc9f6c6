// The best ratio any order-0 scalar quantizer can reach on the benchmark tensors when every value must come back,
// after rounding to BF16, within the bound — the guarantee our codec gives — set beside the targets issue 3 takes
// from ANCHORS.md, whose figures assume an F32 reconstruction.
//
// How: a bin is a set of BF16 codes that one BF16 value within eb of every member decodes; an optimal partition
// can be taken with bins that are intervals of the sorted values (an interleaved pair can always be untangled
// without raising the entropy). A dynamic program over the sorted distinct values then finds the partition with
// the least order-0 entropy of bin indices, fitted to the file itself and with no side cost: an upper bound on the
// ratio of any coder of one symbol per value, before it pays for its model. The same program with F32 output (a bin
// is valid when its values span at most 2eb: an F32 centre between them, the codec's outputDtype 'F32') gives the
// limit of that setting beside it. Run: `npm run -s bench:limit`.
import { resolve } from 'node:path'
import { finiteRange, resolveBound } from '../src-main/core/codec/index'
import { BOUNDS, benchDir, FILES, readSingleTensor } from './bench-anchors'

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)
const bf16Value = (code: number): number => {
  u32[0] = code << 16
  return f32[0] ?? Number.NaN
}

// Every finite BF16 value in ascending order: "is there a BF16 value in [x, y]" by binary search.
const allFinite: number[] = []
for (let c = 0; c < 65536; c++) {
  const v = bf16Value(c)
  if (Number.isFinite(v)) allFinite.push(v)
}
allFinite.sort((a, b) => a - b)
function bf16Between(x: number, y: number): boolean {
  let lo = 0
  let hi = allFinite.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((allFinite[mid] ?? 0) < x) lo = mid + 1
    else hi = mid
  }
  return lo < allFinite.length && (allFinite[lo] ?? 0) <= y
}

/**
 * Least total bits of an order-0 code of bin indices over all valid interval partitions, for bound eb: with BF16
 * output (some BF16 value within eb of both ends) or F32 output (the ends at most 2eb apart).
 */
function optimalBits(counts: Float64Array, eb: number, output: 'BF16' | 'F32'): number {
  const values: number[] = []
  const weights: number[] = []
  const special: number[] = []
  const order: Array<[number, number]> = []
  for (let c = 0; c < 65536; c++) {
    const n = counts[c] ?? 0
    if (n === 0) continue
    const v = bf16Value(c)
    if (Number.isFinite(v)) order.push([v, n])
    else special.push(n) // NaN and ±Inf come back exact: a bin of their own per code
  }
  order.sort((a, b) => a[0] - b[0])
  for (const [v, n] of order) {
    values.push(v)
    weights.push(n)
  }
  let total = 0
  for (const n of counts) total += n
  const cost = (n: number) => -n * Math.log2(n / total)
  const best = new Float64Array(values.length + 1).fill(Number.POSITIVE_INFINITY)
  best[0] = 0
  for (let j = 1; j <= values.length; j++) {
    const top = values[j - 1] ?? 0
    let n = 0
    for (let i = j - 1; i >= 0; i--) {
      const bottom = values[i] ?? 0
      // The bin holds values[i..j-1]; it is valid while some BF16 value lies within eb of both ends. The window
      // [top − eb, bottom + eb] only shrinks as i falls, so the first invalid bin ends the search.
      if (output === 'BF16' ? !bf16Between(top - eb, bottom + eb) : top - bottom > 2 * eb) break
      n += weights[i] ?? 0
      const t = (best[i] ?? 0) + cost(n)
      if (t < (best[j] ?? 0)) best[j] = t
    }
  }
  return special.reduce((bits, n) => bits + cost(n), best[values.length] ?? 0)
}

const json = process.argv.includes('--json')
const rows: string[] = []
if (!json) {
  rows.push(
    '| file | bound | eb | BF16-output limit | F32-output limit | entropy (F32 output) | target | BF16 limit / target | F32 limit / target |',
    '|---|---|---|---|---|---|---|---|---|',
  )
}
for (const bf of FILES) {
  const { data, dtype } = readSingleTensor(resolve(benchDir, bf.file))
  if (dtype !== 'BF16') throw new Error(`${bf.file}: expected BF16, found ${dtype}`)
  const counts = new Float64Array(65536)
  const codes = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2)
  for (const c of codes) counts[c] = (counts[c] ?? 0) + 1
  const { min, max } = finiteRange('BF16', data)
  const synthetic = bf.file.startsWith('synthetic')
  for (const [mode, bound] of BOUNDS) {
    const key = `${mode} ${bound.toExponential(0)}`
    const anchor = bf.anchors[key]
    if (!anchor) throw new Error(`no ANCHORS.md figures for ${bf.file} ${key}`)
    const [entropy, sz3Default, sz3NoPred] = anchor
    const eb = resolveBound(mode, bound, min, max)
    const limit = (16 * codes.length) / optimalBits(counts, eb, 'BF16')
    const limitF32 = (16 * codes.length) / optimalBits(counts, eb, 'F32')
    const target = Math.max(0.98 * Math.max(entropy, sz3NoPred), synthetic ? 1.05 * sz3Default : 0)
    const short = bf.file.replace('.safetensors', '')
    if (json) {
      console.log(JSON.stringify({ file: short, mode, bound, eb, limit, limitF32, entropy, target }))
    } else {
      rows.push(
        `| ${short} | ${mode} ${bound.toExponential(0)} | ${eb.toPrecision(3)} | ${limit.toFixed(4)} | ${limitF32.toFixed(4)} | ${entropy} | ${target.toFixed(4)} | ${(limit / target).toFixed(4)} | ${(limitF32 / target).toFixed(4)} |`,
      )
    }
  }
}
if (!json) console.log(rows.join('\n'))
