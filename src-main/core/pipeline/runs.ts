// Run records: runs/run_NNN/ with manifest.json (plan, versions, timings, totals) and metrics.csv (per tensor).
import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { CompressionPlan } from '../plan/plan'
import { writeFileAtomic } from './atomic'

export interface TensorMetrics {
  shard: string
  tensor: string
  dtype: string
  role: string
  mode: string
  bound: number
  eb: number
  method: string
  rule: string
  elements: number
  originalBytes: number
  compressedBytes: number
  ratio: number
  meanAbsErr: number
  maxAbsErr: number
  rmse: number
  psnr: number
  overBoundShare: number
  ms: number
}

export interface ShardTotals {
  file: string
  container: string
  originalBytes: number
  compressedBytes: number
  ratio: number
  tensors: number
}

export interface RunManifest {
  run: string
  kind: 'compress'
  tool: { name: 'shardpress'; version: string }
  codecVersion: number
  containerVersion: number
  node: string
  model: string
  output: string
  plan: CompressionPlan
  workers: number
  chunkElements: number
  digest: 'sha256' | 'crc32'
  startedAt: string
  finishedAt: string
  seconds: number
  /** How many times the job was resumed after an interruption. */
  resumes: number
  totals: {
    shards: number
    tensors: number
    /** Original shard files, bytes on disk (FP8 counted as stored: one byte per value). */
    originalBytes: number
    compressedBytes: number
    ratio: number
    lossyTensors: number
    maxOverBoundShare: number
  }
  shards: ShardTotals[]
  label?: string
}

/** The next free runs/run_NNN under `runsDir`. */
export function nextRunName(runsDir: string): string {
  let max = 0
  try {
    for (const n of readdirSync(runsDir)) {
      const m = /^run_(\d+)$/.exec(n)
      if (m) max = Math.max(max, Number(m[1]))
    }
  } catch {}
  return `run_${String(max + 1).padStart(3, '0')}`
}

const COLUMNS: (keyof TensorMetrics)[] = [
  'shard',
  'tensor',
  'dtype',
  'role',
  'mode',
  'bound',
  'eb',
  'method',
  'rule',
  'elements',
  'originalBytes',
  'compressedBytes',
  'ratio',
  'meanAbsErr',
  'maxAbsErr',
  'rmse',
  'psnr',
  'overBoundShare',
  'ms',
]
const HEADINGS = [
  'shard',
  'tensor',
  'dtype',
  'role',
  'mode',
  'bound',
  'eb',
  'method',
  'rule',
  'elements',
  'original_bytes',
  'compressed_bytes',
  'ratio',
  'mean_abs_err',
  'max_abs_err',
  'rmse',
  'psnr_db',
  'over_bound_share',
  'time_ms',
]

function csvCell(v: unknown): string {
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : v > 0 ? 'inf' : String(v)) : String(v)
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function metricsCsv(rows: TensorMetrics[]): string {
  const lines = [HEADINGS.join(',')]
  for (const r of rows) lines.push(COLUMNS.map((c) => csvCell(r[c])).join(','))
  return `${lines.join('\n')}\n`
}

export async function writeRun(runDir: string, manifest: RunManifest, rows: TensorMetrics[]): Promise<void> {
  mkdirSync(runDir, { recursive: true })
  await writeFileAtomic(join(runDir, 'metrics.csv'), metricsCsv(rows))
  await writeFileAtomic(join(runDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`)
}
