// Reconstructs safetensors shards from a compressed model (original names, header verbatim, tensor order), or only
// verifies it. Every chunk's CRC and decoded CRC is checked, lossless tensors against their original CRC/sha256,
// and lossy tensors against the original model's values when it is there. Resumes after a kill, like compress.
import { createHash, type Hash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { rename } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import {
  type ChunkInput,
  CodecError,
  crc32,
  type MappedRegion,
  mapFileRegion,
  mappingSupported,
  sliceRegion,
  unmapFileRegion,
} from '../codec'
import type { ChunkCodecParams, CodecDtype, Fp8BlockScales } from '../codec/types'
import { ContainerError } from '../container/errors'
import type { TensorRecord } from '../container/format'
import { ContainerReader } from '../container/reader'
import { ShardedSafetensors } from '../safetensors'
import { CancelledError, WorkerTaskError } from '../util/workers'
import { commitPartial, copyFileAtomic, findPartial, partialName, removeStalePartials, writeFileAtomic } from './atomic'
import type { JobProgress } from './compress'
import { type CompressedModel, JOB_DIR_NAME, readDescriptor } from './compressed-model'
import { DIRECT_BLOCK, DirectWriter } from './direct-writer'
import { BackgroundCommit, Journal } from './journal'
import {
  type ChunkSlot,
  ChunkSlots,
  chunkWindow,
  createPipelinePool,
  MAP_WINDOW_BYTES,
  type PipelinePool,
} from './pool'
import type { DecompressResult } from './tasks'
import { addSums, chunkValues, type ErrorSums, emptySums, isCodecDtype, metricsOf } from './values'

export interface DecodeJobOptions {
  /** Folder written by compress (with shardpress.json). */
  input: string
  /** Where to write the reconstructed model; omit to verify only. */
  outDir?: string
  /** Original model to check bounds against; undefined = the recorded source if it still exists; false = none. */
  original?: string | false
  workers?: number
  pool?: PipelinePool
  /** Journal (and fsync) written tensors at most this often; 0 = after every tensor. Default 1000 ms. */
  commitIntervalMs?: number
  /**
   * Decode chunks straight from a memory mapping of the containers (default, where the system can map files),
   * windows of `mapWindowBytes` (default 64 MiB) at a time, or from buffers they are read into (false).
   */
  mapChunks?: boolean
  mapWindowBytes?: number
  signal?: AbortSignal
  onProgress?: (p: JobProgress) => void
}

export interface TensorCheck {
  shard: string
  tensor: string
  method: string
  eb: number
  /** Checked value by value against the original model. */
  checkedAgainstOriginal: boolean
  maxAbsErr: number
  overBoundShare: number
}

export interface DecodeReport {
  input: string
  outDir?: string
  original?: string
  shards: { file: string; container: string; tensors: number; bytes: number }[]
  tensors: TensorCheck[]
  /** One sentence per problem found (verify collects them; decompress throws on the first). */
  problems: { code: string; message: string; file?: string; tensor?: string }[]
  ok: boolean
  seconds: number
}

export class ReconstructError extends Error {
  override readonly name = 'ReconstructError'
  constructor(
    readonly code: 'BOUND_VIOLATED' | 'TENSOR_CHECKSUM_MISMATCH' | 'MISSING_SCALE' | 'LAYOUT',
    message: string,
    readonly file: string,
    readonly tensor?: string,
  ) {
    super(`${message} (${file}${tensor ? `, tensor ${tensor}` : ''})`)
  }
}

interface DecodeJournalEntry {
  tensor?: string
  end?: number
  check?: TensorCheck
  finished?: boolean
  size?: number
}

export function decompressModel(o: DecodeJobOptions & { outDir: string }): Promise<DecodeReport> {
  return runDecode(o)
}

export function verifyModel(o: Omit<DecodeJobOptions, 'outDir'>): Promise<DecodeReport> {
  return runDecode(o)
}

async function runDecode(o: DecodeJobOptions): Promise<DecodeReport> {
  const t0 = Date.now()
  const input = resolve(o.input)
  const verifyOnly = o.outDir === undefined
  const report: DecodeReport = { input, shards: [], tensors: [], problems: [], ok: true, seconds: 0 }
  const descriptor = readDescriptor(input)
  const originalPath =
    o.original === false ? undefined : (o.original ?? (existsSync(descriptor.source) ? descriptor.source : undefined))
  const readers: ContainerReader[] = []
  const ownPool = !o.pool
  // Workers start first: their start-up overlaps opening the containers and the original on this thread.
  const pool = o.pool ?? createPipelinePool(o.workers)
  let original: ShardedSafetensors | undefined
  let job: DecodeJob | undefined
  try {
    original = originalPath ? await ShardedSafetensors.open(originalPath) : undefined
    if (originalPath) report.original = resolve(originalPath)
    for (const s of descriptor.shards) {
      try {
        readers.push(await ContainerReader.open(join(input, s.container)))
      } catch (err) {
        if (!verifyOnly) throw err
        report.problems.push(problemOf(err, join(input, s.container)))
      }
    }
    job = new DecodeJob(o, pool, readers, original, verifyOnly)
    let jobDir: string | undefined
    if (!verifyOnly) {
      const outDir = resolve(o.outDir!)
      report.outDir = outDir
      mkdirSync(outDir, { recursive: true })
      jobDir = join(outDir, JOB_DIR_NAME)
      const fingerprint = createHash('sha256')
        .update(readFileSync(join(input, 'shardpress.json')))
        .update(input)
        .digest('hex')
      let state: { fingerprint: string } | undefined
      try {
        state = JSON.parse(readFileSync(join(jobDir, 'state.json'), 'utf8'))
      } catch {}
      if (state?.fingerprint !== fingerprint) rmSync(jobDir, { recursive: true, force: true })
      mkdirSync(jobDir, { recursive: true })
      await writeFileAtomic(join(jobDir, 'state.json'), JSON.stringify({ fingerprint }))
    }
    for (const r of readers) {
      const file = basename(r.path).replace(/\.spz$/, '')
      try {
        const checks = verifyOnly ? await job.verifyShard(r, file) : await job.writeShard(r, file, o.outDir!, jobDir!)
        report.tensors.push(...checks)
        report.shards.push({ file, container: basename(r.path), tensors: r.tensors.length, bytes: r.index.shardSize })
      } catch (err) {
        if (!verifyOnly || err instanceof CancelledError) throw err
        report.problems.push(problemOf(err, r.path))
      }
    }
    if (!verifyOnly) {
      await Promise.all(descriptor.files.map((f) => copyFileAtomic(join(input, f), join(resolve(o.outDir!), f))))
      rmSync(jobDir!, { recursive: true, force: true })
    }
  } finally {
    job?.dropWindows()
    for (const r of readers) await r.close()
    await original?.close()
    if (ownPool) await pool.close()
  }
  report.ok = report.problems.length === 0
  report.seconds = (Date.now() - t0) / 1000
  return report
}

function problemOf(err: unknown, file: string): DecodeReport['problems'][number] {
  const e = err as { code?: string; message?: string; file?: string; tensor?: string }
  return {
    code: e?.code ?? 'ERROR',
    message: e?.message ?? String(err),
    file: e?.file ?? file,
    ...(e?.tensor ? { tensor: e.tensor } : {}),
  }
}

/** A tensor being decoded: what its chunks need and what its checks add up. */
interface TensorDecode {
  t: TensorRecord
  writing: boolean
  /** Where the tensor goes when writing: its decoded chunks are placed for the writer's O_DIRECT blocks. */
  writer?: DirectWriter
  fileStart?: number
  againstOriginal: boolean
  orig: { readInto: (target: Uint8Array, start: number) => Promise<Uint8Array> } | undefined
  fp8: Fp8BlockScales | undefined
  hash: Hash | undefined
  crc: number
  sums: ErrorSums
  elemBytes: number
}

/** Decoded chunks whose writes may be waiting at once, behind the thread that takes results. */
const MAX_WRITES = 3

/** A container's mapped windows (whole chunks each), the one in use and the one mapped ahead. */
interface ContainerWindows {
  starts: number[]
  ends: number[]
  current?: { k: number; region: MappedRegion }
  next?: { k: number; region: Promise<{ region?: MappedRegion; error?: unknown }> }
}

/** A chunk's outcome: its bytes (stored, or decoded into its slot) and what the worker measured. */
type ChunkDone = DecompressResult & { stored?: Uint8Array; slot?: ChunkSlot }

class DecodeJob {
  private readonly scaleCache = new Map<string, Float32Array>()
  /** Shared chunk buffers: compressed bytes, decoded bytes and the original chunk, reused chunk after chunk. */
  private readonly slots = new ChunkSlots()
  private readonly holder = new Map<string, ContainerReader>()
  private bytesDone = 0
  private tensorsDone = 0
  private readonly bytesTotal: number
  private readonly tensorsTotal: number
  private readonly startedAt = Date.now()
  /**
   * Codec chunks are decoded from mapped windows of the containers (where the system can map files, until a
   * mapping fails): one mapping per window instead of one read per chunk, and no copy of every compressed byte.
   */
  private mapping: boolean
  /** Each container's window mapped last; chunks go to workers as slices of it. */
  private readonly windows = new Map<ContainerReader, ContainerWindows>()
  private windowTurn: Promise<void> = Promise.resolve()

  constructor(
    private readonly o: DecodeJobOptions,
    private readonly pool: PipelinePool,
    readers: ContainerReader[],
    private readonly original: ShardedSafetensors | undefined,
    private readonly verifyOnly: boolean,
  ) {
    for (const r of readers) for (const t of r.tensors) this.holder.set(t.name, r)
    this.bytesTotal = readers.reduce((a, r) => a + r.tensors.reduce((b, t) => b + t.byteLength, 0), 0)
    this.tensorsTotal = readers.reduce((a, r) => a + r.tensors.length, 0)
    this.mapping = (o.mapChunks ?? true) && mappingSupported()
  }

  /** Lets every window go (slices still with workers keep their mapping until they are let go too). */
  dropWindows(): void {
    for (const w of this.windows.values()) {
      if (w.current) unmapFileRegion(w.current.region)
      w.next?.region.then((m) => m.region && unmapFileRegion(m.region))
    }
    this.windows.clear()
  }

  /**
   * Chunk i of t as a slice of its container's mapped window (the window mapped ahead while the one before was in
   * use); undefined when mapping fails for a reason of the system's (the job then reads from here on). Calls run
   * one after the other, in the order made: chunks are submitted without waiting for each other, and two of them
   * must not both replace a window.
   */
  private mappedChunk(r: ContainerReader, t: TensorRecord, i: number): Promise<MappedRegion | undefined> {
    const p = this.windowTurn.then(() => this.mappedChunkNow(r, t, i))
    this.windowTurn = p.then(
      () => {},
      () => {},
    )
    return p
  }

  /**
   * The container's windows: its codec chunks in file order cut into runs of whole chunks spanning at most
   * mapWindowBytes (at least one chunk each), so a window can be mapped before any of its chunks is asked for.
   */
  private windowsOf(r: ContainerReader): ContainerWindows {
    let w = this.windows.get(r)
    if (w) return w
    const limit = this.o.mapWindowBytes ?? MAP_WINDOW_BYTES
    const chunks = r.tensors
      .filter((t) => t.method !== 'stored' && isCodecDtype(t.dtype))
      .flatMap((t) => t.chunks)
      .sort((a, b) => a.offset - b.offset)
    w = { starts: [], ends: [] }
    for (const c of chunks) {
      const k = w.starts.length - 1
      if (k >= 0 && c.offset >= w.starts[k]! && c.offset + c.length - w.starts[k]! <= limit)
        w.ends[k] = Math.max(w.ends[k]!, c.offset + c.length)
      else {
        w.starts.push(c.offset)
        w.ends.push(c.offset + c.length)
      }
    }
    this.windows.set(r, w)
    return w
  }

  /** Maps window k of a container; errors come back in the result, for the chunk that needs the window to name. */
  private mapWindow(
    r: ContainerReader,
    w: ContainerWindows,
    k: number,
  ): Promise<{ region?: MappedRegion; error?: unknown }> {
    return mapFileRegion(r.fd, w.starts[k]!, w.ends[k]! - w.starts[k]!).then(
      (region) => ({ region }),
      (error: unknown) => ({ error }),
    )
  }

  private async mappedChunkNow(r: ContainerReader, t: TensorRecord, i: number): Promise<MappedRegion | undefined> {
    if (!this.mapping) return undefined
    const c = t.chunks[i]!
    const w = this.windowsOf(r)
    // The window holding the chunk: the last one starting at or before it.
    let lo = 0
    let hi = w.starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (w.starts[mid]! <= c.offset) lo = mid
      else hi = mid - 1
    }
    const k = lo
    if (w.starts.length === 0 || c.offset < w.starts[k]! || c.offset + c.length > w.ends[k]!)
      throw new ContainerError('CORRUPT_INDEX', `Chunk ${i} lies outside the container's chunks`, r.path, t.name)
    if (w.current?.k !== k) {
      if (w.current) unmapFileRegion(w.current.region)
      w.current = undefined
      let mapped: { region?: MappedRegion; error?: unknown }
      if (w.next?.k === k) mapped = await w.next.region
      else {
        w.next?.region.then((m) => m.region && unmapFileRegion(m.region))
        mapped = await this.mapWindow(r, w, k)
      }
      w.next = undefined
      if (mapped.error !== undefined) {
        const err = mapped.error
        if (err instanceof CodecError && err.code === 'PAST_END')
          throw new ContainerError('TRUNCATED', `Chunk ${i} is cut short`, r.path, t.name)
        if (!(err instanceof CodecError)) throw err
        this.mapping = false
        return undefined
      }
      w.current = { k, region: mapped.region! }
      // The next window is mapped while this one's chunks are decoded, so no chunk waits for a mapping.
      if (k + 1 < w.starts.length) w.next = { k: k + 1, region: this.mapWindow(r, w, k + 1) }
    }
    // Its CRC is checked by the worker, right before decoding it: the bytes are then in that core's cache.
    return sliceRegion(w.current.region, c.offset - w.starts[k]!, c.length)
  }

  private checkCancel(): void {
    if (this.o.signal?.aborted) throw new CancelledError()
  }

  private progress(file: string, tensor?: string): void {
    if (!this.o.onProgress) return
    const secs = (Date.now() - this.startedAt) / 1000
    const rate = this.bytesDone / Math.max(secs, 1e-3)
    this.o.onProgress({
      phase: this.verifyOnly ? 'verify' : 'decompress',
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      tensorsDone: this.tensorsDone,
      tensorsTotal: this.tensorsTotal,
      current: file,
      ...(tensor ? { tensor } : {}),
      ...(rate > 0 ? { etaSeconds: (this.bytesTotal - this.bytesDone) / rate } : {}),
    })
  }

  async verifyShard(r: ContainerReader, file: string): Promise<TensorCheck[]> {
    const checks: TensorCheck[] = []
    await this.tensors(r, file, r.tensors, undefined, async (check) => {
      checks.push(check)
    })
    return checks
  }

  async writeShard(r: ContainerReader, file: string, outDir: string, jobDir: string): Promise<TensorCheck[]> {
    const finalPath = join(outDir, file)
    const journalPath = join(jobDir, `${file}.jsonl`)
    let entries = Journal.read<DecodeJournalEntry>(journalPath)
    const finished = entries.find((e) => e.finished)
    const doneChecks = () => entries.filter((e) => e.check).map((e) => e.check!)
    const skip = () => {
      for (const t of r.tensors) this.bytesDone += t.byteLength
      this.tensorsDone += r.tensors.length
      return doneChecks()
    }
    if (finished?.size !== undefined) {
      // Partials of this shard may still lie about (a run that rewrote a finished shard after losing its journal,
      // killed between journaling the end and the rename): the final file stands, they go.
      if (existsSync(finalPath) && statSync(finalPath).size === finished.size) {
        await removeStalePartials(finalPath)
        return skip()
      }
      const leftover = await findPartial(finalPath)
      if (leftover && statSync(leftover).size === finished.size) {
        await rename(leftover, finalPath)
        await removeStalePartials(finalPath)
        return skip()
      }
      entries = []
    }
    let done = entries.filter((e) => e.tensor !== undefined && e.end !== undefined)
    if (done.some((e, i) => e.tensor !== r.tensors[i]?.name)) done = []
    const own = partialName(finalPath)
    const leftover = await findPartial(finalPath)
    let writer: DirectWriter
    if (done.length > 0 && leftover && statSync(leftover).size >= done[done.length - 1]!.end!) {
      if (leftover !== own) await rename(leftover, own)
      await removeStalePartials(finalPath, own)
      writer = await DirectWriter.reopen(own, done[done.length - 1]!.end!)
    } else {
      done = []
      await removeStalePartials(finalPath)
      rmSync(journalPath, { force: true })
      writer = await DirectWriter.create(own)
      const len = Buffer.alloc(8)
      len.writeBigUInt64LE(BigInt(r.headerJson.length))
      await writer.append(len)
      await writer.append(r.headerJson)
    }
    const journal = new Journal<DecodeJournalEntry>(journalPath)
    const checks = done.map((e) => e.check!)
    for (const t of r.tensors.slice(0, done.length)) {
      this.bytesDone += t.byteLength
      this.tensorsDone++
    }
    const dataStart = 8 + r.headerJson.length
    const background = new BackgroundCommit(journal, () => writer.sync())
    let lastSync = Date.now()
    try {
      await this.tensors(r, file, r.tensors.slice(done.length), { writer, dataStart }, async (check, t) => {
        checks.push(check)
        journal.add({ tensor: t.name, end: writer.position, check })
        if (Date.now() - lastSync >= (this.o.commitIntervalMs ?? 1000)) {
          background.start()
          lastSync = Date.now()
        }
      })
      this.checkCancel()
      await background.settle()
      await writer.sync()
      await writer.close()
      const size = statSync(own).size
      journal.add({ finished: true, size })
      journal.flush()
      await commitPartial(own, finalPath)
      return checks
    } catch (err) {
      await background.settle().catch(() => {})
      await writer.close()
      throw err
    } finally {
      journal.close()
    }
  }

  /**
   * Decodes tensors chunk by chunk through the pool, checking everything and writing in order when asked. One bounded
   * window of chunks in flight spans tensor boundaries, so the workers stay busy while a tensor is finished, written
   * and journaled; `onTensor` runs once per tensor, in order, after its last byte is written.
   */
  private async tensors(
    r: ContainerReader,
    file: string,
    list: TensorRecord[],
    out: { writer: DirectWriter; dataStart: number } | undefined,
    onTensor: (check: TensorCheck, t: TensorRecord) => Promise<void>,
  ): Promise<void> {
    const window = chunkWindow(this.pool)
    const queue: { st: TensorDecode; index: number; result: Promise<ChunkDone> }[] = []
    /** Writes of decoded chunks not yet on disk, oldest first. */
    const writes: Promise<void>[] = []
    const drainOne = async () => {
      const { st, index, result } = queue.shift()!
      if (index <= 0 && out && out.writer.position !== out.dataStart + st.t.begin)
        throw new ReconstructError('LAYOUT', 'The tensors do not tile the data section in order', r.path, st.t.name)
      const res = await result
      const bytes = res.stored ?? res.decoded
      if (bytes) {
        // A lossy tensor's record CRC is the original's, which its reconstruction never matches: skip the pass.
        if (st.t.method !== 'abs') st.crc = crc32(bytes, st.crc)
        st.hash?.update(bytes)
      }
      if (bytes && out) {
        // The write runs behind this thread (the writer keeps writes in order): results go on being taken and
        // chunks submitted meanwhile, so a slow write never leaves the workers without work. The slot is free
        // once its bytes are on disk; at most MAX_WRITES writes wait.
        const slot = res.slot
        const written = out.writer.append(bytes).then(() => this.slots.give(slot))
        written.catch(() => {})
        writes.push(written)
        while (writes.length > MAX_WRITES) await writes.shift()
      } else this.slots.give(res.slot)
      if (res.sums) st.sums = addSums(st.sums, res.sums)
      if (index === st.t.chunks.length - 1 || index < 0) await onTensor(this.finishTensor(r, file, st), st.t)
    }
    for (const t of list) {
      this.checkCancel()
      const st = await this.startTensor(r, t, out)
      if (t.chunks.length === 0) queue.push({ st, index: -1, result: Promise.resolve({ ms: 0 }) })
      for (let i = 0; i < t.chunks.length; i++) {
        this.checkCancel()
        const result = this.submitChunk(r, st, i)
        result.catch(() => {})
        queue.push({ st, index: i, result })
        while (queue.length >= window) await drainOne()
      }
    }
    while (queue.length > 0) await drainOne()
    for (const w of writes.splice(0)) await w
  }

  private async startTensor(
    r: ContainerReader,
    t: TensorRecord,
    out: { writer: DirectWriter; dataStart: number } | undefined,
  ): Promise<TensorDecode> {
    const againstOriginal = t.method === 'abs' && this.original !== undefined
    return {
      t,
      writing: out !== undefined,
      ...(out ? { writer: out.writer, fileStart: out.dataStart + t.begin } : {}),
      againstOriginal,
      orig: againstOriginal ? this.originalTensor(t, r.path) : undefined,
      fp8: t.method === 'abs' && t.fp8 ? await this.scalesFor(t, r.path) : undefined,
      hash: t.sha256 && t.method !== 'abs' ? createHash('sha256') : undefined,
      crc: 0,
      sums: emptySums(),
      elemBytes: t.elementCount > 0 ? t.byteLength / t.elementCount : 0,
    }
  }

  /** Reads chunk i and hands it to a worker (a stored chunk is checked right here). */
  private async submitChunk(r: ContainerReader, st: TensorDecode, i: number): Promise<ChunkDone> {
    const { t, elemBytes, fp8, orig } = st
    const c = t.chunks[i]!
    const decodedBytes = c.elementCount * elemBytes
    const keep = st.writing || t.method !== 'abs'
    const codec = t.method !== 'stored' && isCodecDtype(t.dtype)
    const region = codec && this.mapping ? await this.mappedChunk(r, t, i) : undefined
    // Room to shift the decoded bytes so that their file blocks start on memory blocks (see DirectWriter).
    const slot = this.slots.take(
      region ? 0 : c.length,
      codec && keep ? decodedBytes + DIRECT_BLOCK : 0,
      codec && orig ? decodedBytes : 0,
    )
    let compressed: ChunkInput
    try {
      compressed = region ?? (await r.readChunkInto(t, i, slot.input))
    } catch (err) {
      this.slots.give(slot)
      throw err
    }
    this.bytesDone += decodedBytes
    if (!codec) {
      if (t.method !== 'stored' || compressed.length !== decodedBytes || crc32(compressed) !== c.decodedCrc)
        throw new ContainerError('CORRUPT_INDEX', `Stored chunk ${i} is inconsistent with its record`, r.path, t.name)
      return { stored: compressed as Uint8Array, ms: 0, slot }
    }
    const params: ChunkCodecParams = {
      dtype: t.dtype as CodecDtype,
      mode: t.method === 'abs' ? 'abs' : 'lossless',
      eb: t.method === 'abs' ? t.eb : 0,
      rowLength: t.rowLength,
      firstElement: c.firstElement,
      ...(fp8 ? { fp8 } : {}),
    }
    let original: Uint8Array | undefined
    try {
      original = orig
        ? await orig.readInto(slot.reference.subarray(0, decodedBytes), c.firstElement * elemBytes)
        : undefined
    } catch (err) {
      if (region) unmapFileRegion(region)
      throw err
    }
    const at = st.writer ? st.writer.alignedOffset(slot.output, st.fileStart! + c.firstElement * elemBytes) : 0
    const target = keep ? slot.output.subarray(at, at + decodedBytes) : undefined
    // Shared slots travel as views (nothing moved or cloned); the decoded bytes are read back from the slot. The
    // worker is done with the compressed chunk's mapping once it answers.
    const done = (await this.pool
      .run({
        kind: 'decompress',
        compressed,
        params,
        elementCount: c.elementCount,
        decodedCrc: c.decodedCrc,
        ...(region ? { compressedCrc: c.crc } : {}),
        checkCrc: !st.writing,
        ...(original ? { original } : {}),
        keep,
        ...(target ? { target } : {}),
        file: r.path,
        tensor: t.name,
      })
      .catch((err: unknown) => {
        // The worker found the mapped chunk damaged: the same error as when this thread reads it.
        if (err instanceof WorkerTaskError && err.code === 'CORRUPT_CHUNK')
          throw new ContainerError('CORRUPT_CHUNK', `Chunk ${i} is damaged (checksum mismatch)`, r.path, t.name)
        throw err
      })
      .finally(() => {
        if (region) unmapFileRegion(region)
      })) as DecompressResult
    return { ...done, ...(target ? { decoded: target } : {}), slot }
  }

  /** The whole-tensor checks once every chunk is in: checksums for exact tensors, the bound for lossy ones. */
  private finishTensor(r: ContainerReader, file: string, st: TensorDecode): TensorCheck {
    const { t, sums, againstOriginal } = st
    if (t.method !== 'abs') {
      if (st.crc >>> 0 !== t.crc || (st.hash && !st.hash.digest().equals(t.sha256!)))
        throw new ContainerError(
          'TENSOR_CHECKSUM_MISMATCH',
          'The decoded tensor does not match the checksum of the original',
          r.path,
          t.name,
        )
    } else if (againstOriginal && sums.over > 0) {
      throw new ReconstructError(
        'BOUND_VIOLATED',
        `${sums.over} values differ from the original by more than the bound ${t.eb}`,
        r.path,
        t.name,
      )
    }
    this.tensorsDone++
    this.progress(file, t.name)
    const m = metricsOf(sums)
    return {
      shard: file,
      tensor: t.name,
      method: t.method,
      eb: t.eb,
      checkedAgainstOriginal: againstOriginal,
      maxAbsErr: againstOriginal ? m.maxAbs : 0,
      overBoundShare: againstOriginal ? m.overShare : 0,
    }
  }

  private originalTensor(t: TensorRecord, file: string) {
    const located = this.original!.locate(t.name)
    const info = located.info
    if (info.dtype !== t.dtype || info.byteLength !== t.byteLength)
      throw new ReconstructError('LAYOUT', 'The original model has a different tensor under this name', file, t.name)
    return {
      /** Fills `target` with the original tensor's bytes from `start` on. */
      readInto: async (target: Uint8Array, start: number): Promise<Uint8Array> => {
        const n = await located.shard.readInto(t.name, target, start)
        if (n !== target.length)
          throw new ReconstructError('LAYOUT', 'The original tensor is shorter than its record', file, t.name)
        return target
      },
    }
  }

  /** The exact F32 scales of an FP8 weight, decoded from whichever container holds them. */
  private async scalesFor(t: TensorRecord, file: string): Promise<Fp8BlockScales> {
    const link = t.fp8!
    let scales = this.scaleCache.get(link.scaleTensor)
    const holder = this.holder.get(link.scaleTensor)
    if (!scales) {
      if (!holder)
        throw new ReconstructError(
          'MISSING_SCALE',
          `The scale tensor ${link.scaleTensor} is in no container`,
          file,
          t.name,
        )
      const st = holder.tensor(link.scaleTensor)
      if (st.method === 'abs')
        throw new ReconstructError('MISSING_SCALE', 'The scale tensor was not stored losslessly', file, t.name)
      const parts: Uint8Array[] = []
      for (let i = 0; i < st.chunks.length; i++) {
        const c = st.chunks[i]!
        const compressed = new Uint8Array(await holder.readChunk(st, i))
        if (st.method === 'stored') {
          parts.push(compressed)
          continue
        }
        const res = (await this.pool.run(
          {
            kind: 'decompress',
            compressed,
            params: {
              dtype: st.dtype as CodecDtype,
              mode: 'lossless',
              eb: 0,
              rowLength: st.rowLength,
              firstElement: c.firstElement,
            },
            elementCount: c.elementCount,
            decodedCrc: c.decodedCrc,
            checkCrc: true,
            keep: true,
            file: holder.path,
            tensor: st.name,
          },
          [compressed.buffer as ArrayBuffer],
        )) as DecompressResult
        parts.push(res.decoded!)
      }
      const all = Buffer.concat(parts)
      if (crc32(all) !== st.crc)
        throw new ContainerError(
          'TENSOR_CHECKSUM_MISMATCH',
          'The scale tensor does not match its checksum',
          holder.path,
          st.name,
        )
      scales = Float32Array.from(chunkValues(all, st.dtype as CodecDtype))
      this.scaleCache.set(link.scaleTensor, scales)
    }
    const st = holder!.tensor(link.scaleTensor)
    const cols = t.shape[1]!
    return { cols, blockRows: link.blockRows, blockCols: link.blockCols, scaleCols: st.shape[1]!, scales }
  }
}

export type { CompressedModel }
