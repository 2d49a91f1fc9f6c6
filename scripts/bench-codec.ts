// Codec benchmark: our ratio, max error / bound and one-core speed on the three BF16 tensors in
// ../shared/bench, beside the reference figures of ../shared/bench/ANCHORS.md (entropy without prediction,
// SZ3 default, SZ3 no-pred; measured there with SZ3 3.3.2). Every lossy cell is run twice: with BF16 output
// (the product's reconstruction: every value after rounding to BF16 within the bound) and with F32 output (SZ3's
// setting, in which ANCHORS.md's figures were taken: SZ3 reconstructs floats). Under the tables, the issue's
// targets are checked cell by cell. `--json` prints one JSON object per line (`output`: 'BF16' or 'F32').
import { resolve } from 'node:path'
import { compressTensor, decompressTensor, type ErrorMode } from '../src-main/core/codec/index'
import { type Anchor, BOUNDS, benchDir, FILES, readSingleTensor } from './bench-anchors'

const json = process.argv.includes('--json')

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)
function bf16(bytes: Uint8Array, i: number): number {
  u32[0] = ((bytes[2 * i + 1] ?? 0) << 24) | ((bytes[2 * i] ?? 0) << 16)
  return f32[0] ?? 0
}

/**
 * Best-of-k time in seconds of fn, measured as this process's CPU time (user + system): the work is single
 * threaded, and on a shared machine CPU time is the honest "one core" figure (wall time includes waiting).
 * k is chosen so small tensors are timed over enough work, and is at least 10: with fewer, one run's page faults
 * and collector work decide the figure on a shared machine (±15 % between runs with 3).
 */
function timeBest<T>(fn: () => T, bytes: number): { result: T; seconds: number } {
  const reps = Math.max(10, Math.min(40, Math.ceil(1e8 / bytes)))
  let best = Number.POSITIVE_INFINITY
  let result = fn()
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage()
    result = fn()
    const c = process.cpuUsage(c0)
    const s = (c.user + c.system) / 1e6
    if (s < best) best = s
  }
  return { result, seconds: Math.max(best, 1e-6) }
}

type Output = 'BF16' | 'F32'
interface Cell {
  file: string
  label: string
  mode: ErrorMode
  bound: number
  output: Output
  eb: number
  ratio: number
  maxErr: number
  /** Values that did not come back within eb (NaN/Inf not bit-exact count too). */
  over: number
  compMBps: number
  decompMBps: number
}

/** Compresses, decompresses and checks one (file, bound, output) cell; errors are measured here, not by the codec. */
function runCell(data: Uint8Array, shape: number[], mode: ErrorMode, bound: number, output: Output) {
  const n = data.byteLength / 2
  const outputDtype = output === 'F32' ? ('F32' as const) : undefined
  const comp = timeBest(() => compressTensor(data, { dtype: 'BF16', mode, bound, shape, outputDtype }), data.byteLength)
  const c = comp.result
  const dec = timeBest(
    () =>
      decompressTensor({
        dtype: 'BF16',
        eb: c.eb,
        mode,
        shape,
        chunks: c.chunks,
        chunkElements: c.chunkElements,
        outputDtype,
      }),
    data.byteLength,
  )
  const out = dec.result
  const wide = output === 'F32' ? new Float32Array(out.buffer, out.byteOffset, n) : undefined
  let maxErr = 0
  let over = 0
  for (let i = 0; i < n; i++) {
    const x = bf16(data, i)
    const y = wide ? (wide[i] ?? Number.NaN) : bf16(out, i)
    if (Number.isFinite(x)) {
      const e = Math.abs(x - y)
      if (e > maxErr) maxErr = e
      if (!(e <= c.eb) && mode !== 'lossless') over++
      if (mode === 'lossless' && e !== 0) over++
    } else if (!Object.is(x, y) && !(Number.isNaN(x) && Number.isNaN(y))) over++
  }
  return {
    eb: c.eb,
    ratio: data.byteLength / c.bytes,
    maxErr,
    over,
    compMBps: data.byteLength / 1e6 / comp.seconds,
    decompMBps: data.byteLength / 1e6 / dec.seconds,
  }
}

const fmt = (x: number, d = 2) => x.toFixed(d)
const cells: Cell[] = []
const lossless: string[] = []
const anchorsOf = new Map<string, Anchor>()
for (const bf of FILES) {
  const { data, shape, dtype } = readSingleTensor(resolve(benchDir, bf.file))
  if (dtype !== 'BF16') throw new Error(`${bf.file}: expected BF16, found ${dtype}`)
  const short = bf.file.replace('.safetensors', '')
  for (const [mode, bound] of BOUNDS) {
    const label = `${mode} ${bound.toExponential(0)}`
    anchorsOf.set(`${short}|${label}`, bf.anchors[label] ?? [Number.NaN, Number.NaN, Number.NaN])
    for (const output of ['BF16', 'F32'] as const) {
      const r = runCell(data, shape, mode, bound, output)
      cells.push({ file: short, label, mode, bound, output, ...r })
      if (json) {
        console.log(
          JSON.stringify({
            file: short,
            mode,
            bound,
            output,
            ratio: r.ratio,
            max_err: r.maxErr,
            eb: r.eb,
            over: r.over,
            comp_MBps: r.compMBps,
            decomp_MBps: r.decompMBps,
          }),
        )
      }
    }
  }
  const r = runCell(data, shape, 'lossless', 0, 'BF16')
  if (json) {
    console.log(
      JSON.stringify({
        file: short,
        mode: 'lossless',
        bound: 0,
        output: 'BF16',
        ratio: r.ratio,
        max_err: r.maxErr,
        eb: 0,
        over: r.over,
        comp_MBps: r.compMBps,
        decomp_MBps: r.decompMBps,
      }),
    )
  }
  const l = bf.lossless
  lossless.push(
    `| ${short} | ${fmt(r.ratio, 3)} | ${l.entropy} | zstd-19 ${l.zstd19} | byte-split+zstd ${l.byteSplitZstd19} | ${r.over === 0 ? 'exact' : `${r.over} NOT EXACT`} | ${fmt(r.compMBps, 0)} | ${fmt(r.decompMBps, 0)} |`,
  )
}

if (!json) {
  const rows: string[] = []
  rows.push('Reference columns: ../shared/bench/ANCHORS.md (entropy without prediction, SZ3 3.3.2 default and no-pred,')
  rows.push('all with float reconstruction). "BF16 out": every value after rounding to BF16 within eb (the product);')
  rows.push('"F32 out": BF16 weights reconstructed as F32 (outputDtype F32, SZ3\'s setting). Speeds: one core, MB/s of')
  rows.push('BF16 input, best-of-k CPU time.')
  rows.push('')
  rows.push(
    '| file | bound | eb | BF16 out | F32 out | entropy | SZ3 default | SZ3 no-pred | F32 out / max(ent, no-pred) | F32 out / SZ3 default | max err/eb BF16, F32 | comp MB/s BF16, F32 | decomp MB/s BF16, F32 |',
  )
  rows.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (let k = 0; k < cells.length; k += 2) {
    const b = cells[k] as Cell
    const w = cells[k + 1] as Cell
    const a = anchorsOf.get(`${b.file}|${b.label}`) as Anchor
    rows.push(
      `| ${b.file} | ${b.label} | ${b.eb.toPrecision(3)} | ${fmt(b.ratio, 3)} | ${fmt(w.ratio, 3)} | ${a[0]} | ${a[1]} | ${a[2]} | ${fmt(w.ratio / Math.max(a[0], a[2]), 3)} | ${fmt(w.ratio / a[1], 3)} | ${fmt(b.maxErr / b.eb, 3)}, ${fmt(w.maxErr / w.eb, 3)} | ${fmt(b.compMBps, 0)}, ${fmt(w.compMBps, 0)} | ${fmt(b.decompMBps, 0)}, ${fmt(w.decompMBps, 0)} |`,
    )
  }
  rows.push('')
  rows.push('Lossless (bit-exact BF16):')
  rows.push('')
  rows.push(
    '| file | ratio | bf16 order-0 entropy | zstd-19 | byte-split + zstd-19 | check | comp MB/s | decomp MB/s |',
  )
  rows.push('|---|---|---|---|---|---|---|---|')
  rows.push(...lossless)
  rows.push('')
  // The issue's targets, per output: ratio ≥ 0.98 × max(entropy, SZ3 no-pred) in every cell; on the synthetic file
  // also ≥ 1.05 × SZ3 default; no value outside its bound.
  for (const output of ['BF16', 'F32'] as const) {
    const missed: string[] = []
    let n = 0
    let violations = 0
    for (const c of cells.filter((x) => x.output === output)) {
      const a = anchorsOf.get(`${c.file}|${c.label}`) as Anchor
      let need = 0.98 * Math.max(a[0], a[2])
      if (c.file.startsWith('synthetic')) need = Math.max(need, 1.05 * a[1])
      n++
      violations += c.over
      if (c.ratio < need) missed.push(`${c.file.split('_')[0]} ${c.label} ${fmt(c.ratio, 4)} < ${fmt(need, 4)}`)
    }
    rows.push(
      `Ratio targets with ${output} output: ${n - missed.length} of ${n} cells met${missed.length ? ` (missed: ${missed.join('; ')})` : ''}; values outside their bound: ${violations}.`,
    )
  }
  console.log(rows.join('\n'))
}
