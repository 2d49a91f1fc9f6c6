// One lossy variant, end to end: compress the model under a plan into a run folder, reconstruct safetensors
// (bounds checked against the original on the way), measure the reconstruction on the bench, and count its size
// as actually stored: the compressed bytes of the weight matrices × 8 / their weights.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { classifyTensor } from '../model/roles'
import { compressModel, decompressModel, type PipelinePool, type TensorMetrics } from '../pipeline'
import type { CompressionPlan } from '../plan'
import { ShardedSafetensors } from '../safetensors'
import type { FidelityBench, FidelityMetrics } from './bench'

/** Norms, biases and scales stay exact in every rate–distortion plan: they are tiny and the model is sensitive. */
export const EXACT_SMALL_TENSORS = {
  role: ['norm', 'bias', 'fp8_scale'],
  mode: 'lossless' as const,
  label: 'norms, biases and scales: lossless',
}

/** Size of one group of weight matrices in a run. */
export interface GroupSize {
  weights: number
  originalBytes: number
  compressedBytes: number
  ratio: number
  /** Largest |x − x'| seen in the group. */
  maxAbsErr: number
}

export interface LossyPoint {
  label: string
  run: string
  runDir: string
  plan: CompressionPlan
  /** Compressed bytes of the weight matrices (2-D and up) × 8 / their weights. */
  bitsPerWeight: number
  /** All compressed files (every tensor, headers, index) × 8 / every parameter. */
  fileBitsPerWeight: number
  originalBytes: number
  compressedBytes: number
  ratio: number
  maxAbsErr: number
  /** Every lossy tensor's error within its bound (as measured by compress and checked again on reconstruction). */
  boundKept: boolean
  groups: Record<string, GroupSize>
  metrics: FidelityMetrics
  seconds: number
}

/** The weight matrices of a model: name → elements and tuning group. */
export async function weightMatrices(model: string): Promise<Map<string, { elements: number; group: string }>> {
  const st = await ShardedSafetensors.open(model)
  try {
    const out = new Map<string, { elements: number; group: string }>()
    for (const { info } of st.tensors)
      if (info.shape.length >= 2)
        out.set(info.name, { elements: info.elementCount, group: classifyTensor(info.name).group })
    return out
  } finally {
    await st.close()
  }
}

export function sizeOfRun(
  metrics: TensorMetrics[],
  matrices: Map<string, { elements: number; group: string }>,
): Pick<LossyPoint, 'bitsPerWeight' | 'groups' | 'maxAbsErr' | 'boundKept'> & { params: number } {
  let weights = 0
  let bytes = 0
  let params = 0
  let maxAbsErr = 0
  let boundKept = true
  const groups: Record<string, GroupSize> = {}
  for (const m of metrics) {
    params += m.elements
    const err = Number.isFinite(m.maxAbsErr) ? m.maxAbsErr : 0
    if (m.method === 'abs') {
      maxAbsErr = Math.max(maxAbsErr, err)
      if (m.overBoundShare > 0 || err > m.eb) boundKept = false
    }
    const mat = matrices.get(m.tensor)
    if (!mat) continue
    weights += m.elements
    bytes += m.compressedBytes
    groups[mat.group] ??= { weights: 0, originalBytes: 0, compressedBytes: 0, ratio: 0, maxAbsErr: 0 }
    const g = groups[mat.group]!
    g.weights += m.elements
    g.originalBytes += m.originalBytes
    g.compressedBytes += m.compressedBytes
    g.maxAbsErr = Math.max(g.maxAbsErr, m.method === 'abs' ? err : 0)
  }
  for (const g of Object.values(groups)) g.ratio = g.compressedBytes > 0 ? g.originalBytes / g.compressedBytes : 0
  return { bitsPerWeight: weights ? (bytes * 8) / weights : 0, groups, maxAbsErr, boundKept, params }
}

export interface MeasureRunOptions {
  model: string
  plan: CompressionPlan
  label: string
  runDir: string
  bench: FidelityBench
  matrices: Map<string, { elements: number; group: string }>
  pool?: PipelinePool
  workers?: number
  /** Keep the reconstructed safetensors and their GGUF (default: remove them once measured). */
  keepReconstruction?: boolean
  signal?: AbortSignal
}

export async function measureRun(o: MeasureRunOptions): Promise<LossyPoint> {
  const t0 = Date.now()
  const modelOut = join(o.runDir, 'model')
  const recon = join(o.runDir, 'reconstructed')
  const common = {
    ...(o.pool ? { pool: o.pool } : {}),
    ...(o.workers ? { workers: o.workers } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  }
  const c = await compressModel({
    model: o.model,
    outDir: modelOut,
    runDir: o.runDir,
    plan: o.plan,
    label: o.label,
    digest: 'crc32',
    ...common,
  })
  // Decompression checks every lossy value against the original again and throws on a violated bound.
  await decompressModel({ input: modelOut, outDir: recon, original: o.model, ...common })
  const { metrics, gguf } = await o.bench.measure(recon)
  if (!o.keepReconstruction) {
    rmSync(recon, { recursive: true, force: true })
    rmSync(gguf, { force: true })
  }
  const size = sizeOfRun(c.metrics, o.matrices)
  const t = c.manifest.totals
  return {
    label: o.label,
    run: c.manifest.run,
    runDir: o.runDir,
    plan: o.plan,
    bitsPerWeight: size.bitsPerWeight,
    fileBitsPerWeight: size.params ? (t.compressedBytes * 8) / size.params : 0,
    originalBytes: t.originalBytes,
    compressedBytes: t.compressedBytes,
    ratio: t.ratio,
    maxAbsErr: size.maxAbsErr,
    boundKept: size.boundKept,
    groups: size.groups,
    metrics,
    seconds: (Date.now() - t0) / 1000,
  }
}
