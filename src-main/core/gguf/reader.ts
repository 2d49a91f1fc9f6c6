// Reads GGUF v3 files: metadata (with each value's GGUF type), tensor infos, and a tensor's raw bytes by name.
// Enough to check our writer against llama.cpp's files and to compare tensors byte for byte.
import { type FileHandle, open } from 'node:fs/promises'
import {
  alignUp,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  type GgufScalarType,
  GgufValueType,
  tensorByteLength,
} from './constants'
import { GgufError } from './errors'
import type { GgufKv, GgufScalar } from './writer'

export interface GgufTensorInfo {
  name: string
  ne: number[]
  type: number
  /** Offset relative to the data section. */
  offset: number
  byteLength: number
}

const typeNames = Object.fromEntries(Object.entries(GgufValueType).map(([k, v]) => [v, k])) as Record<
  number,
  keyof typeof GgufValueType
>
class NeedMore extends Error {}

class Cursor {
  pos = 0
  private readonly view: DataView
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
  need(n: number): void {
    if (this.pos + n > this.bytes.length) throw new NeedMore()
  }
  u8(): number {
    this.need(1)
    return this.view.getUint8(this.pos++)
  }
  u32(): number {
    this.need(4)
    const v = this.view.getUint32(this.pos, true)
    this.pos += 4
    return v
  }
  u64(): number {
    this.need(8)
    const v = this.view.getBigUint64(this.pos, true)
    this.pos += 8
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufError('GGUF_BAD_VALUE', `A length of ${v} is too large.`)
    return Number(v)
  }
  str(): string {
    const n = this.u64()
    this.need(n)
    const s = new TextDecoder('utf-8', { fatal: false }).decode(this.bytes.subarray(this.pos, this.pos + n))
    this.pos += n
    return s
  }
  scalar(type: GgufScalarType): GgufScalar {
    const sizes: Record<string, number> = {
      u8: 1,
      i8: 1,
      u16: 2,
      i16: 2,
      u32: 4,
      i32: 4,
      f32: 4,
      bool: 1,
      u64: 8,
      i64: 8,
      f64: 8,
    }
    if (type === 'str') return this.str()
    const size = sizes[type]!
    this.need(size)
    const p = this.pos
    this.pos += size
    const v = this.view
    switch (type) {
      case 'u8':
        return v.getUint8(p)
      case 'i8':
        return v.getInt8(p)
      case 'u16':
        return v.getUint16(p, true)
      case 'i16':
        return v.getInt16(p, true)
      case 'u32':
        return v.getUint32(p, true)
      case 'i32':
        return v.getInt32(p, true)
      case 'f32':
        return v.getFloat32(p, true)
      case 'bool':
        return v.getUint8(p) !== 0
      case 'u64':
        return v.getBigUint64(p, true)
      case 'i64':
        return v.getBigInt64(p, true)
      default:
        return v.getFloat64(p, true)
    }
  }
}

export class GgufFile {
  private constructor(
    readonly file: string,
    private readonly fh: FileHandle,
    readonly version: number,
    readonly metadata: Map<string, GgufKv>,
    readonly tensors: GgufTensorInfo[],
    readonly dataOffset: number,
  ) {}

  static async open(file: string): Promise<GgufFile> {
    const fh = await open(file, 'r')
    try {
      const size = (await fh.stat()).size
      let want = Math.min(size, 1 << 20)
      for (;;) {
        const bytes = new Uint8Array(want)
        await fh.read(bytes, 0, want, 0)
        try {
          return GgufFile.parse(file, fh, bytes, size)
        } catch (err) {
          if (!(err instanceof NeedMore)) throw err
          if (want >= size) throw new GgufError('GGUF_TRUNCATED', `${file} ends inside its header.`, { file })
          want = Math.min(size, want * 4)
        }
      }
    } catch (err) {
      await fh.close()
      throw err
    }
  }

  private static parse(file: string, fh: FileHandle, bytes: Uint8Array, size: number): GgufFile {
    const c = new Cursor(bytes)
    if (c.u32() !== GGUF_MAGIC) throw new GgufError('GGUF_BAD_MAGIC', `${file} is not a GGUF file.`, { file })
    const version = c.u32()
    if (version !== 3 && version !== 2) {
      throw new GgufError('GGUF_BAD_VERSION', `${file} is GGUF version ${version}; only 2 and 3 are read.`, { file })
    }
    const nTensors = c.u64()
    const nKv = c.u64()
    const metadata = new Map<string, GgufKv>()
    for (let i = 0; i < nKv; i++) {
      const key = c.str()
      const t = typeNames[c.u32()]
      if (!t) throw new GgufError('GGUF_BAD_VALUE', `Metadata key ${key} in ${file} has an unknown type.`, { file })
      if (metadata.has(key)) throw new GgufError('GGUF_DUPLICATE', `Metadata key ${key} appears twice in ${file}.`)
      if (t === 'arr') {
        const it = typeNames[c.u32()]
        if (!it || it === 'arr') throw new GgufError('GGUF_BAD_VALUE', `Array ${key} in ${file} has a bad item type.`)
        const n = c.u64()
        const values: GgufScalar[] = new Array(n)
        for (let j = 0; j < n; j++) values[j] = c.scalar(it)
        metadata.set(key, { type: 'arr', itemType: it, values })
      } else {
        metadata.set(key, { type: t, value: c.scalar(t) })
      }
    }
    const tensors: GgufTensorInfo[] = []
    for (let i = 0; i < nTensors; i++) {
      const name = c.str()
      const nDims = c.u32()
      const ne: number[] = []
      for (let d = 0; d < nDims; d++) ne.push(c.u64())
      const type = c.u32()
      const offset = c.u64()
      tensors.push({ name, ne, type, offset, byteLength: tensorByteLength(type, ne) })
    }
    const align = metadata.get('general.alignment')
    const alignment = align && align.type !== 'arr' ? Number(align.value) : GGUF_DEFAULT_ALIGNMENT
    const dataOffset = alignUp(c.pos, alignment)
    for (const t of tensors) {
      if (dataOffset + t.offset + t.byteLength > size) {
        throw new GgufError('GGUF_TRUNCATED', `Tensor ${t.name} runs past the end of ${file}.`, {
          file,
          tensor: t.name,
        })
      }
    }
    return new GgufFile(file, fh, version, metadata, tensors, dataOffset)
  }

  /** A metadata value (arrays as plain arrays), or undefined. */
  get(key: string): GgufScalar | GgufScalar[] | undefined {
    const kv = this.metadata.get(key)
    if (!kv) return undefined
    return kv.type === 'arr' ? Array.from(kv.values) : kv.value
  }

  tensor(name: string): GgufTensorInfo {
    const t = this.tensors.find((x) => x.name === name)
    if (!t)
      throw new GgufError('GGUF_TENSOR_NOT_FOUND', `${this.file} has no tensor ${name}.`, {
        file: this.file,
        tensor: name,
      })
    return t
  }

  async read(name: string): Promise<Uint8Array> {
    const t = this.tensor(name)
    const out = new Uint8Array(t.byteLength)
    await this.fh.read(out, 0, t.byteLength, this.dataOffset + t.offset)
    return out
  }

  async close(): Promise<void> {
    await this.fh.close()
  }
}
