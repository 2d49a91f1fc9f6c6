// Worker threads for heavy work: spawning a worker script that may be TypeScript (dev, tests, CLI through tsx) or
// bundled JavaScript (the Electron build), and a small pool with a task queue, progress messages and cancellation.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { type TransferListItem, Worker, type WorkerOptions } from 'node:worker_threads'

/**
 * The URL of a worker script next to `fromUrl`: `name.ts` when the caller runs from TypeScript sources,
 * `name.js` when it runs bundled.
 */
export function siblingWorkerUrl(fromUrl: string, name: string): URL {
  const ext = fromUrl.endsWith('.ts') || fromUrl.endsWith('.mts') ? '.ts' : '.js'
  return new URL(`./${name}${ext}`, fromUrl)
}

let tsxUrl: string | undefined
function tsxLoaderUrl(): string {
  // Resolved from this file so it works whatever the current directory is.
  tsxUrl ??= import.meta.resolve('tsx')
  return tsxUrl
}

const bundles = new Map<string, URL | null>()

/** What a bundle was built from: each input's size and modification time, to reuse it while they are unchanged. */
interface BundleRecord {
  bundle: string
  inputs: Record<string, [size: number, mtimeMs: number]>
}

function fileStamp(path: string): [number, number] {
  const st = statSync(path)
  return [st.size, st.mtimeMs]
}

/** The bundle `record` names, if it exists and every file it was built from is as it was then. */
function upToDate(recordPath: string): string | undefined {
  try {
    const r = JSON.parse(readFileSync(recordPath, 'utf8')) as BundleRecord
    if (!existsSync(r.bundle)) return undefined
    for (const [f, [size, mtime]] of Object.entries(r.inputs)) {
      const [s, m] = fileStamp(f)
      if (s !== size || m !== mtime) return undefined
    }
    return r.bundle
  } catch {
    return undefined
  }
}

/** Writes `data` to `path` through a temporary name, so a racing process never reads half of it. */
function writeWhole(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, data)
  renameSync(tmp, path)
}

/** Bundles of a worker older than this are removed when a newer one is written (a worker has long loaded its own). */
const STALE_BUNDLE_MS = 10 * 60 * 1000

/** Removes earlier bundles of worker `name` from `dir` (left by edits of its sources), keeping `current`. */
function pruneBundles(dir: string, name: string, current: string): void {
  const own = new RegExp(`^${name.replace(/[^\w-]/g, '\\$&')}-[0-9a-f]{16}\\.mjs$`)
  for (const f of readdirSync(dir)) {
    const path = join(dir, f)
    if (!own.test(f) || path === current) continue
    try {
      if (Date.now() - statSync(path).mtimeMs > STALE_BUNDLE_MS) rmSync(path, { force: true })
    } catch {
      // Another process pruned it first.
    }
  }
}

/**
 * A TypeScript worker bundled into one JavaScript file by esbuild, or undefined where that is not possible (no
 * esbuild, nowhere to write). A worker started through tsx spends ~130 ms of CPU setting up the loader and
 * transpiling its imports, a visible share of a job of a few seconds on two cores; the bundle starts in ~45 ms.
 * Bundles live under node_modules/.cache, named by their content; a record of the files each was built from (size
 * and modification time) lets later processes reuse it without running esbuild while those files are unchanged.
 * Set SHARDPRESS_WORKER_BUNDLE=0 to use tsx.
 */
function bundledWorker(path: string): URL | undefined {
  if (process.env.SHARDPRESS_WORKER_BUNDLE === '0') return undefined
  const known = bundles.get(path)
  if (known !== undefined) return known ?? undefined
  let url: URL | null = null
  try {
    let root = dirname(path)
    while (!existsSync(join(root, 'node_modules')) && dirname(root) !== root) root = dirname(root)
    const dir = join(root, 'node_modules', '.cache', 'shardpress-workers')
    const name = basename(path).replace(/\.(c|m)?ts$/, '')
    const recordPath = join(dir, `${name}-${createHash('sha256').update(path).digest('hex').slice(0, 12)}.json`)
    let file = upToDate(recordPath)
    if (!file) {
      const esbuild = createRequire(join(root, 'package.json'))('esbuild') as typeof import('esbuild')
      const started = Date.now()
      const built = esbuild.buildSync({
        entryPoints: [path],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node22',
        packages: 'external',
        write: false,
        metafile: true,
        absWorkingDir: root,
        logLevel: 'silent',
      })
      const out = built.outputFiles[0]!.contents
      const inputs: BundleRecord['inputs'] = {}
      let settled = true
      for (const f of Object.keys(built.metafile.inputs)) {
        const abs = resolve(root, f)
        inputs[abs] = fileStamp(abs)
        // Edited while esbuild read it: this bundle may hold the old text, so it is not recorded for reuse.
        if (inputs[abs][1] >= started - 1) settled = false
      }
      file = join(dir, `${name}-${createHash('sha256').update(out).digest('hex').slice(0, 16)}.mjs`)
      mkdirSync(dir, { recursive: true })
      if (!existsSync(file)) {
        writeWhole(file, out)
        pruneBundles(dir, name, file)
      }
      if (settled) writeWhole(recordPath, JSON.stringify({ bundle: file, inputs } satisfies BundleRecord))
    }
    url = pathToFileURL(file)
  } catch {
    url = null
  }
  bundles.set(path, url)
  return url ?? undefined
}

/**
 * Starts a worker. A `.ts` script runs bundled into JavaScript where esbuild is at hand, else through tsx's loader
 * (workers do not inherit loader hooks).
 */
export function spawnWorker(url: URL | string, options: WorkerOptions = {}): Worker {
  const u = typeof url === 'string' ? (url.startsWith('file:') ? new URL(url) : pathToFileURL(url)) : url
  const path = fileURLToPath(u)
  const isTs = /\.(c|m)?ts$/.test(path)
  const bundle = isTs ? bundledWorker(path) : undefined
  if (isTs && !bundle) {
    const execArgv = [
      ...(options.execArgv ?? []).filter((a) => a !== '--import' && a !== 'tsx'),
      '--import',
      tsxLoaderUrl(),
    ]
    return new Worker(u, { ...options, execArgv })
  }
  // The bundle needs none of this process's flags (tsx's loader least of all; some flags, such as the test runner's,
  // are refused by workers when passed explicitly).
  if (bundle) return new Worker(bundle, { ...options, execArgv: options.execArgv ?? [] })
  return new Worker(u, options)
}

/** Default pool size: one worker per core. */
export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism())
}

/** Messages a pool worker sends back: progress while working, then exactly one result or error. */
export type WorkerReply<R> =
  | { id: number; type: 'progress'; bytes: number }
  | { id: number; type: 'result'; result: R }
  | {
      id: number
      type: 'error'
      error: { name: string; message: string; code?: string; file?: string; tensor?: string }
    }

/** Error raised in a worker, carried over with its code, file and tensor. */
export class WorkerTaskError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly file?: string,
    readonly tensor?: string,
  ) {
    super(message)
    this.name = 'WorkerTaskError'
  }
}

export class CancelledError extends Error {
  readonly code = 'CANCELLED'
  constructor() {
    super('The job was cancelled.')
    this.name = 'CancelledError'
  }
}

interface Pending<T, R> {
  id: number
  task: T
  transfer: TransferListItem[]
  onProgress?: (bytes: number) => void
  resolve: (r: R) => void
  reject: (e: Error) => void
}

export interface WorkerPoolOptions extends WorkerOptions {
  /**
   * Tasks posted to each worker ahead of its answers (default 1). With 2, a worker finds its next task already in
   * its own message queue when it finishes one, instead of idling for the round trip through this thread (which
   * may be busy reading or writing just then).
   */
  depth?: number
}

/**
 * A fixed set of workers running one script. `run(task)` queues a task; each worker holds at most `depth` tasks
 * at a time, which bounds memory to (workers × depth × per-task buffers).
 */
export class WorkerPool<T, R> {
  private readonly all: Worker[] = []
  private readonly queue: Pending<T, R>[] = []
  /** Tasks posted to each worker, oldest first: a worker answers them in order. */
  private readonly posted = new Map<Worker, Pending<T, R>[]>()
  private readonly depth: number
  private nextId = 1
  private closed = false

  constructor(url: URL, size = defaultWorkerCount(), options: WorkerPoolOptions = {}) {
    const { depth, ...workerOptions } = options
    this.depth = Math.max(1, Math.floor(depth ?? 1))
    for (let i = 0; i < size; i++) {
      const w = spawnWorker(url, workerOptions)
      w.on('message', (msg: WorkerReply<R>) => this.onMessage(w, msg))
      w.on('error', (err) => this.onCrash(w, err))
      w.on('exit', (code) => {
        if (!this.closed) this.onCrash(w, new Error(`worker exited with code ${code}`))
      })
      w.unref()
      this.all.push(w)
      this.posted.set(w, [])
    }
  }

  get size(): number {
    return this.all.length
  }

  /** Tasks each worker may hold at once. */
  get tasksPerWorker(): number {
    return this.depth
  }

  run(task: T, transfer: TransferListItem[] = [], onProgress?: (bytes: number) => void): Promise<R> {
    if (this.closed) return Promise.reject(new CancelledError())
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, task, transfer, onProgress, resolve, reject })
      this.pump()
    })
  }

  /** Stops every worker; queued and running tasks reject with CancelledError. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const err = new CancelledError()
    for (const p of this.queue.splice(0)) p.reject(err)
    for (const list of this.posted.values()) for (const p of list.splice(0)) p.reject(err)
    await Promise.all(this.all.map((w) => w.terminate()))
  }

  private pump(): void {
    // Fill the emptiest worker first, so tasks spread before any worker takes a second one.
    for (let level = 0; level < this.depth && this.queue.length > 0; level++) {
      for (const w of this.all) {
        if (this.queue.length === 0) break
        const list = this.posted.get(w)!
        if (list.length !== level) continue
        const p = this.queue.shift()!
        list.push(p)
        if (list.length === 1) w.ref()
        w.postMessage({ id: p.id, task: p.task }, p.transfer)
      }
    }
  }

  private onMessage(w: Worker, msg: WorkerReply<R>): void {
    const list = this.posted.get(w)
    const at = list ? list.findIndex((p) => p.id === msg.id) : -1
    if (!list || at < 0) return
    const p = list[at]!
    if (msg.type === 'progress') {
      p.onProgress?.(msg.bytes)
      return
    }
    list.splice(at, 1)
    if (list.length === 0) w.unref()
    if (msg.type === 'result') p.resolve(msg.result)
    else p.reject(new WorkerTaskError(msg.error.message, msg.error.code, msg.error.file, msg.error.tensor))
    this.pump()
  }

  private onCrash(w: Worker, err: Error): void {
    const list = this.posted.get(w)
    this.posted.delete(w)
    for (const p of list?.splice(0) ?? []) p.reject(err)
    const i = this.all.indexOf(w)
    if (i >= 0) this.all.splice(i, 1)
    if (this.all.length === 0) {
      for (const q of this.queue.splice(0)) q.reject(err)
    }
  }
}

/** Serializes an error for the trip from a worker to the pool. */
export function errorReply(
  id: number,
  err: unknown,
): {
  id: number
  type: 'error'
  error: { name: string; message: string; code?: string; file?: string; tensor?: string }
} {
  const e = err as { name?: string; message?: string; code?: string; file?: string; tensor?: string }
  return {
    id,
    type: 'error',
    error: {
      name: e?.name ?? 'Error',
      message: e?.message ?? String(err),
      code: typeof e?.code === 'string' ? e.code : undefined,
      file: e?.file,
      tensor: e?.tensor,
    },
  }
}
