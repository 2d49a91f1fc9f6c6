// An independent checker for reconstructed models: headers byte-identical, lossless tensors byte-identical, and
// every value of a lossy tensor within the bound the test computes itself from the plan and the original.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type CompressionPlan, resolvePlan } from '../../src-main/core/plan/plan'
import { ShardedSafetensors, type TensorInfo } from '../../src-main/core/safetensors'

function e4m3(code: number): number {
  const s = code & 0x80 ? -1 : 1
  const e = (code >> 3) & 15
  const m = code & 7
  if (e === 15 && m === 7) return Number.NaN
  return e === 0 ? s * (m / 8) * 2 ** -6 : s * (1 + m / 8) * 2 ** (e - 7)
}

/** Values of a whole tensor as float64, dequantized with `scales` for FP8 (128×128 blocks). */
const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

function values(info: TensorInfo, bytes: Buffer, scales?: { data: Float32Array; cols: number }): Float64Array {
  const n = info.elementCount
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    switch (info.dtype) {
      case 'BF16':
        u32[0] = bytes.readUInt16LE(2 * i) << 16
        out[i] = f32[0]!
        break
      case 'F32':
        out[i] = bytes.readFloatLE(4 * i)
        break
      case 'F8_E4M3': {
        const cols = info.shape[1]!
        const r = Math.floor(i / cols)
        const c = i % cols
        out[i] = e4m3(bytes[i]!) * (scales ? scales.data[Math.floor(r / 128) * scales.cols + Math.floor(c / 128)]! : 1)
        break
      }
      default:
        throw new Error(`checker does not read ${info.dtype}`)
    }
  }
  return out
}

export interface CheckSummary {
  lossless: number
  lossy: number
  maxRatioToBound: number
}

export async function checkReconstruction(
  originalDir: string,
  reconDir: string,
  plan: CompressionPlan,
  shardNames: string[],
): Promise<CheckSummary> {
  const orig = await ShardedSafetensors.open(originalDir)
  const rec = await ShardedSafetensors.open(reconDir)
  const sum: CheckSummary = { lossless: 0, lossy: 0, maxRatioToBound: 0 }
  try {
    for (const name of shardNames) {
      const a = readFileSync(join(originalDir, name))
      const b = readFileSync(join(reconDir, name))
      assert.equal(b.length, a.length, `${name}: size`)
      const n = Number(a.readBigUInt64LE(0))
      assert.ok(a.subarray(0, 8 + n).equals(b.subarray(0, 8 + n)), `${name}: header bytes identical`)
    }
    for (const { shard, info } of orig.tensors) {
      const x = await shard.read(info.name)
      const other = rec.locate(info.name)
      const y = await other.shard.read(info.name)
      const choice = resolvePlan(plan, { name: info.name, dtype: info.dtype, elementCount: info.elementCount })
      const isScale = info.name.endsWith('_scale_inv')
      const codecType = ['BF16', 'F16', 'F32', 'F64', 'F8_E4M3', 'F8_E5M2'].includes(info.dtype)
      if (choice.mode === 'lossless' || isScale || !codecType) {
        assert.ok(x.equals(y), `${info.name}: lossless tensor must be byte-identical`)
        sum.lossless++
        continue
      }
      let scales: { data: Float32Array; cols: number } | undefined
      if (info.dtype === 'F8_E4M3') {
        const s = orig.locate(`${info.name}_scale_inv`)
        const raw = await s.shard.read(`${info.name}_scale_inv`)
        scales = { data: new Float32Array(Uint8Array.from(raw).buffer), cols: s.info.shape[1]! }
        // Reconstructed scales must be the originals, bit for bit.
        const rs = await rec.locate(`${info.name}_scale_inv`).shard.read(`${info.name}_scale_inv`)
        assert.ok(rs.equals(raw), `${info.name}: scales identical`)
      }
      const va = values(info, x, scales)
      const vb = values(info, y, scales)
      let eb = choice.bound
      if (choice.mode === 'rel') {
        let lo = Number.POSITIVE_INFINITY
        let hi = Number.NEGATIVE_INFINITY
        for (const v of va) {
          if (Number.isFinite(v)) {
            lo = Math.min(lo, v)
            hi = Math.max(hi, v)
          }
        }
        eb = choice.bound * (hi - lo)
      }
      for (let i = 0; i < va.length; i++) {
        const d = Math.abs(va[i]! - vb[i]!)
        if (Number.isNaN(va[i]!)) assert.ok(Number.isNaN(vb[i]!), `${info.name}[${i}] NaN kept`)
        else assert.ok(d <= eb * (1 + 1e-9), `${info.name}[${i}]: |${va[i]} − ${vb[i]}| = ${d} > ${eb}`)
        if (eb > 0) sum.maxRatioToBound = Math.max(sum.maxRatioToBound, d / eb)
      }
      sum.lossy++
    }
  } finally {
    await orig.close()
    await rec.close()
  }
  return sum
}
