// The three BF16 benchmark tensors in ../shared/bench and the reference figures ANCHORS.md gives for them, shared by
// the codec benchmark and the quantizer-limit study.
import { closeSync, openSync, readSync } from 'node:fs'
import { resolve } from 'node:path'
import type { ErrorMode } from '../src-main/core/codec/index'

export const benchDir = resolve(
  process.env.SHARDPRESS_SHARED ?? resolve(import.meta.dirname, '..', '..', 'shared'),
  'bench',
)

export type Anchor = [entropy: number, sz3Default: number, sz3NoPred: number]
export interface BenchFile {
  file: string
  anchors: Record<string, Anchor>
  lossless: { zstd19: number; byteSplitZstd19: number; entropy: number }
}

// Figures copied from ANCHORS.md (source of truth; same cells, same order).
export const FILES: BenchFile[] = [
  {
    file: 'synthetic_bf16_2048x2048.safetensors',
    lossless: { zstd19: 1.28, byteSplitZstd19: 1.49, entropy: 1.53 },
    anchors: {
      'abs 1e-5': [1.56, 1.27, 1.55],
      'abs 1e-4': [1.85, 1.76, 1.84],
      'abs 1e-3': [2.97, 2.8, 2.95],
      'abs 1e-2': [7.55, 6.48, 7.49],
      'rel 1e-4': [1.68, 1.55, 1.65],
      'rel 1e-3': [2.44, 2.31, 2.39],
      'rel 1e-2': [4.91, 4.46, 4.84],
    },
  },
  {
    file: 'stories260K_stack_bf16_3192x64.safetensors',
    lossless: { zstd19: 1.34, byteSplitZstd19: 1.54, entropy: 1.5 },
    anchors: {
      'abs 1e-5': [1.51, 1.14, 1.41],
      'abs 1e-4': [1.55, 1.14, 1.5],
      'abs 1e-3': [1.93, 1.76, 1.85],
      'abs 1e-2': [3.18, 3.08, 3.1],
      'rel 1e-4': [1.68, 1.46, 1.64],
      'rel 1e-3': [2.44, 2.31, 2.51],
      'rel 1e-2': [4.9, 4.57, 4.79],
    },
  },
  {
    file: 'lora_gpt2_stack_bf16_46080x8.safetensors',
    lossless: { zstd19: 1.27, byteSplitZstd19: 1.49, entropy: 1.51 },
    anchors: {
      'abs 1e-5': [1.62, 1.38, 1.57],
      'abs 1e-4': [2.22, 2.1, 2.18],
      'abs 1e-3': [4.1, 3.81, 4.05],
      'abs 1e-2': [20.36, 14.12, 20.59],
      'rel 1e-4': [1.62, 1.38, 1.57],
      'rel 1e-3': [2.21, 2.1, 2.18],
      'rel 1e-2': [4.08, 3.81, 4.03],
    },
  },
]

export const BOUNDS: Array<[ErrorMode, number]> = [
  ['abs', 1e-5],
  ['abs', 1e-4],
  ['abs', 1e-3],
  ['abs', 1e-2],
  ['rel', 1e-4],
  ['rel', 1e-3],
  ['rel', 1e-2],
]

/** Reads the single tensor of a small safetensors file (8-byte header length, JSON header, data). */
export function readSingleTensor(path: string): { data: Uint8Array; shape: number[]; dtype: string } {
  const fd = openSync(path, 'r')
  try {
    const len = Buffer.alloc(8)
    readSync(fd, len, 0, 8, 0)
    const headerLen = Number(len.readBigUInt64LE(0))
    const header = Buffer.alloc(headerLen)
    readSync(fd, header, 0, headerLen, 8)
    const meta = JSON.parse(header.toString('utf8')) as Record<
      string,
      { dtype: string; shape: number[]; data_offsets: [number, number] }
    >
    const name = Object.keys(meta).find((k) => k !== '__metadata__')
    const t = name ? meta[name] : undefined
    if (!t) throw new Error(`${path} holds no tensor`)
    const [a, b] = t.data_offsets
    const data = new Uint8Array(b - a)
    readSync(fd, data, 0, b - a, 8 + headerLen + a)
    return { data, shape: t.shape, dtype: t.dtype }
  } finally {
    closeSync(fd)
  }
}
