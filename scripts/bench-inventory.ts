// Benchmark: inventory with statistics vs a plain sequential read of the same full-size shard.
// Generates (once, cached outside the repo) shard 34 of the synthetic full-size DeepSeek-V3, about 4.3 GB of FP8
// expert weights with their block scales, then measures both in the same run. Targets: inventory ≥ 50 % of the
// read throughput, peak RSS ≤ 1 GB.
//
//   npm run bench:inventory [-- --dir DIR] [--workers N] [--delete]
//   (DIR defaults to $SHARDPRESS_BENCH_DIR or <tmpdir>/shardpress-bench; SHARDPRESS_STATS_KERNEL=js measures the
//   JavaScript fallback instead of the native statistics kernel; SHARDPRESS_STATS_MMAP=0 makes the native kernel read
//   FP8 weights through a buffer and count their codes instead of mapping and scanning them; SHARDPRESS_STATS_AVX512=0
//   keeps the vector scan to AVX2)
import { spawnSync } from 'node:child_process'
import { closeSync, existsSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { buildInventory } from '../src-main/core/model'
import { nativeStatsActive, statsKernel } from '../src-main/core/model/stats-native'
import { SafetensorsFile } from '../src-main/core/safetensors'
import { defaultWorkerCount } from '../src-main/core/util/workers'

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    workers: { type: 'string' },
    delete: { type: 'boolean' },
    shard: { type: 'string' },
  },
})
const root = resolve(import.meta.dirname, '..')
const dir = resolve(
  values.dir ?? process.env.SHARDPRESS_BENCH_DIR ?? join(tmpdir(), 'shardpress-bench'),
  'deepseek-v3-full',
)
const shardNo = Number(values.shard ?? 34)
const workers = values.workers ? Number(values.workers) : defaultWorkerCount()
const GB = 1e9
const fmt = (bytesPerSec: number) => `${(bytesPerSec / GB).toFixed(2)} GB/s`

function findShard(): string | undefined {
  if (!existsSync(dir)) return undefined
  const name = readdirSync(dir).find(
    (f) => f.startsWith(`model-${String(shardNo).padStart(5, '0')}-of-`) && f.endsWith('.safetensors'),
  )
  return name ? join(dir, name) : undefined
}

async function valid(path: string): Promise<boolean> {
  try {
    await (await SafetensorsFile.open(path)).close()
    return true
  } catch {
    return false
  }
}

let shard = findShard()
if (!shard || !(await valid(shard))) {
  console.log(`generating shard ${shardNo} of the full-size synthetic DeepSeek-V3 into ${dir} (once; cached) …`)
  const t0 = performance.now()
  // A child process, so the generator's memory does not count in this process's peak RSS.
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'src-main/cli/main.ts'),
      'synth',
      'deepseek-v3',
      dir,
      '--scale',
      '1',
      '--only-shard',
      String(shardNo),
      '--force',
    ],
    { stdio: 'inherit', cwd: root },
  )
  if (r.status !== 0) process.exit(r.status ?? 1)
  console.log(`generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  shard = findShard()!
}
const size = statSync(shard).size

/** The baseline: one thread reading the file front to back in 16 MB pieces. */
function sequentialRead(path: string): number {
  const buf = Buffer.allocUnsafe(16 << 20)
  const fd = openSync(path, 'r')
  let pos = 0
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos)
      if (n === 0) break
      pos += n
    }
  } finally {
    closeSync(fd)
  }
  return pos
}

// Page-cache caches cannot be dropped here (no root for /proc/sys/vm/drop_caches): read the file once first so
// that both measurements below run warm, from memory, and compare CPU work rather than disk speed.
sequentialRead(shard)

const cpuSecs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6
const c1 = process.cpuUsage()
const t1 = performance.now()
sequentialRead(shard)
const readSecs = (performance.now() - t1) / 1000
const readCpu = cpuSecs(process.cpuUsage(c1))

const c2 = process.cpuUsage()
const t2 = performance.now()
const inv = await buildInventory(shard, { stats: true, workers })
const invSecs = (performance.now() - t2) / 1000
// process.cpuUsage covers every thread of the process, so this includes the workers.
const invUsage = process.cpuUsage(c2)
const invCpu = cpuSecs(invUsage)
const maxRssMb = process.resourceUsage().maxRSS / 1024

const fp8 = inv.tensors.filter((t) => t.stats?.dequantized)
/** How whole FP8 weights were read: mapped and scanned with vector code, mapped and counted, or read and counted. */
function fp8Path(): string {
  if (process.platform !== 'linux' || process.env.SHARDPRESS_STATS_MMAP === '0') return 'read, codes counted'
  const vector = statsKernel()?.vectorPath ?? 'none'
  return vector === 'none' ? 'mapped, codes counted' : `mapped, ${vector} vector scan`
}
const readRate = size / readSecs
const invRate = size / invSecs
const rows = [
  [
    'shard',
    `${shard} (${(size / GB).toFixed(2)} GB, ${inv.totals.tensors} tensors, ${fp8.length} FP8 weights dequantized)`,
  ],
  ['cache', 'warm for both (file read once before measuring; caches cannot be dropped here)'],
  ['sequential read', `${readSecs.toFixed(2)} s  ${fmt(readRate)}  (one thread, 16 MB reads)`],
  [
    'inventory + statistics',
    `${invSecs.toFixed(2)} s  ${fmt(invRate)}  (${workers} worker threads, ${nativeStatsActive() ? `native statistics kernel, FP8 ${fp8Path()}` : 'JavaScript statistics (SHARDPRESS_STATS_KERNEL=js or addon not built)'})`,
  ],
  ['ratio', `${((invRate / readRate) * 100).toFixed(0)} %  (target ≥ 50 %)`],
  [
    'CPU time',
    `read ${readCpu.toFixed(2)} s (${((readCpu * GB) / size).toFixed(2)} ns/byte), inventory ${invCpu.toFixed(2)} s (${((invCpu * GB) / size).toFixed(2)} ns/byte, all threads; user ${(invUsage.user / 1e6).toFixed(2)} s, system ${(invUsage.system / 1e6).toFixed(2)} s)`,
  ],
  [
    'CPU-bound ratio',
    `${((Math.min(workers, availableParallelism()) * readCpu * 100) / invCpu).toFixed(0)} %  (read CPU × ${Math.min(workers, availableParallelism())} cores / inventory CPU: the ratio on an otherwise idle machine)`,
  ],
  ['load average', `${loadavg()[0]!.toFixed(2)} on ${availableParallelism()} cores (other jobs share this machine)`],
  [
    'peak RSS',
    `${maxRssMb.toFixed(0)} MB  (process maxRSS; worker threads share the process, so it includes them; target ≤ 1024 MB)`,
  ],
]
const w = Math.max(...rows.map((r) => r[0]!.length))
for (const [k, v] of rows) console.log(`${k!.padEnd(w)}  ${v}`)

if (values.delete) {
  rmSync(dir, { recursive: true, force: true })
  console.log(`deleted ${dir}`)
}
