// `shardpress inventory <path>`: every tensor of a model with its role and statistics; table, CSV or JSON.
import { buildInventory, type Inventory, inventoryToCsv, inventoryToJson, type Totals } from '../../core/model'
import { writeFileAtomic } from '../../core/util/atomic'
import { type Command, type CommandContext, flag, numberOption, stringOption } from '../command'
import { formatBytes } from '../progress-bar'

function table(rows: string[][], align: ('l' | 'r')[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows
    .map((r) =>
      r
        .map((c, i) => (align[i] === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

const n = (x: number) => x.toLocaleString('en-US')

function totalsTable(title: string, map: Record<string, Totals>): string {
  const rows = [[title, 'tensors', 'params', 'bytes']]
  for (const [k, t] of Object.entries(map).sort((a, b) => b[1].bytes - a[1].bytes)) {
    rows.push([k, n(t.tensors), n(t.params), formatBytes(t.bytes)])
  }
  return table(rows, ['l', 'r', 'r', 'r'])
}

const g = (x: number | null | undefined) => (x === null || x === undefined ? '' : x.toPrecision(4))

function summary(inv: Inventory, withTensors: boolean): string {
  const m = inv.model
  const out = [
    `${m.name}  ${m.architecture ?? '(no config.json)'}  ${m.layout}: ${m.shards.length} shard${m.shards.length === 1 ? '' : 's'}`,
    `${n(inv.totals.tensors)} tensors, ${n(inv.totals.params)} parameters, ${formatBytes(inv.totals.bytes)} of tensor data`,
    '',
    totalsTable('dtype', inv.byDtype),
    '',
    totalsTable('role', inv.byRole),
  ]
  if (m.shards.length > 1) out.push('', totalsTable('shard', inv.byShard))
  if (withTensors) {
    const rows = [['tensor', 'dtype', 'shape', 'role', 'layer', 'min', 'max', 'std', 'nan/inf']]
    for (const t of inv.tensors) {
      const s = t.stats
      rows.push([
        t.name,
        t.dtype,
        t.shape.join('x'),
        t.expert !== undefined ? `${t.role}:${t.expert}` : t.role,
        t.layer === null ? '' : String(t.layer),
        g(s?.min),
        g(s?.max),
        g(s?.std),
        s ? String(s.nan + s.posInf + s.negInf) : '',
      ])
    }
    out.push('', table(rows, ['l', 'l', 'l', 'l', 'r', 'r', 'r', 'r', 'r']))
  }
  return `${out.join('\n')}\n`
}

export const inventory: Command = {
  name: 'inventory',
  summary: 'List every tensor of a model (folder, .safetensors file or shard index) with role and statistics.',
  usage: 'inventory <path> [--csv FILE] [--json FILE] [--no-stats] [--tensors] [--samples] [--workers N]',
  help: [
    'Options:',
    '  --csv FILE     write inventory.csv (shard, tensor, dtype, shape, bytes, role, statistics); - for stdout',
    '  --json FILE    write the inventory as JSON ({model, tensors, totals, byDtype, byRole, byShard}); - for stdout',
    '  --no-stats     headers only: skip reading tensor data',
    '  --tensors      print one line per tensor in the summary',
    "  --samples      include each tensor's kept sample (up to 4096 values) in the JSON",
    '  --workers N    worker threads for statistics (default: one per core)',
  ],
  options: {
    csv: { type: 'string' },
    json: { type: 'string' },
    'no-stats': { type: 'boolean' },
    tensors: { type: 'boolean' },
    samples: { type: 'boolean' },
    workers: { type: 'string' },
  },
  positionals: { min: 1, max: 1 },
  async run(ctx: CommandContext) {
    const path = ctx.positionals[0]!
    const csv = stringOption(ctx, 'csv')
    const json = stringOption(ctx, 'json')
    const workers = numberOption(ctx, 'workers', (x) => Number.isInteger(x) && x >= 0 && x <= 256)
    const inv = await buildInventory(path, {
      stats: !flag(ctx, 'no-stats'),
      ...(workers !== undefined ? { workers } : {}),
      onProgress: ctx.progress,
      signal: ctx.signal,
    })
    const toStdout = csv === '-' || json === '-'
    if (csv !== undefined) {
      const text = inventoryToCsv(inv)
      if (csv === '-') ctx.stdout.write(text)
      else writeFileAtomic(csv, text)
    }
    if (json !== undefined) {
      const text = inventoryToJson(inv, { samples: flag(ctx, 'samples') })
      if (json === '-') ctx.stdout.write(text)
      else writeFileAtomic(json, text)
    }
    if (!toStdout) {
      ctx.stdout.write(summary(inv, flag(ctx, 'tensors')))
      if (csv) ctx.stdout.write(`wrote ${csv}\n`)
      if (json) ctx.stdout.write(`wrote ${json}\n`)
    }
    return 0
  },
}
