// The inventory table's rows for a given sort, filter and grouping: pure functions, so 100k-row updates are
// predictable and testable without a DOM.
import type { TensorRow } from '../../src-main/core/api/contract'

export type SortKey =
  | 'index'
  | 'name'
  | 'shard'
  | 'dtype'
  | 'elementCount'
  | 'bytes'
  | 'layer'
  | 'role'
  | 'std'
  | 'absMax'
export type GroupBy = 'none' | 'layer' | 'role' | 'group'

export interface TableState {
  sortKey: SortKey
  sortDir: 1 | -1
  filter: string
  groupBy: GroupBy
  collapsed: Record<string, boolean>
}

export const initialTable: TableState = { sortKey: 'index', sortDir: 1, filter: '', groupBy: 'none', collapsed: {} }

export type TableLine =
  | { kind: 'group'; key: string; tensors: number; params: number; bytes: number; collapsed: boolean }
  | { kind: 'tensor'; row: TensorRow }

function sortValue(r: TensorRow, key: SortKey): number | string {
  switch (key) {
    case 'std':
      return r.stats?.std ?? -1
    case 'absMax':
      return r.stats?.absMax ?? -1
    case 'layer':
      return r.layer ?? -1
    default:
      return r[key]
  }
}

/** Filter terms are ANDed; each matches name, role, group, dtype or shard (case-insensitive). */
export function filterRows(rows: TensorRow[], filter: string): TensorRow[] {
  const terms = filter.toLowerCase().split(/\s+/).filter(Boolean)
  if (terms.length === 0) return rows
  return rows.filter((r) => {
    const hay = `${r.name} ${r.role} ${r.group} ${r.dtype} ${r.shard}`.toLowerCase()
    return terms.every((t) => hay.includes(t))
  })
}

export function sortRows(rows: TensorRow[], key: SortKey, dir: 1 | -1): TensorRow[] {
  const out = rows.slice()
  out.sort((a, b) => {
    const x = sortValue(a, key)
    const y = sortValue(b, key)
    const c = x < y ? -1 : x > y ? 1 : a.index - b.index
    return c * dir
  })
  return out
}

export function groupKey(r: TensorRow, by: GroupBy): string {
  if (by === 'layer') return r.layer === null ? 'outside layers' : `layer ${r.layer}`
  if (by === 'role') return r.role
  if (by === 'group') return r.group
  return ''
}

/** Rows to show, with one header line per group (groups in first-seen order after sorting by layer/name). */
export function tableLines(rows: TensorRow[], t: TableState): TableLine[] {
  const sorted = sortRows(filterRows(rows, t.filter), t.sortKey, t.sortDir)
  if (t.groupBy === 'none') return sorted.map((row) => ({ kind: 'tensor', row }))
  const groups = new Map<string, TensorRow[]>()
  for (const r of sorted) {
    const k = groupKey(r, t.groupBy)
    let list = groups.get(k)
    if (!list) {
      list = []
      groups.set(k, list)
    }
    list.push(r)
  }
  const keys = [...groups.keys()]
  if (t.groupBy === 'layer') {
    const num = (k: string) => (k.startsWith('layer ') ? Number(k.slice(6)) : -1)
    keys.sort((a, b) => num(a) - num(b))
  } else keys.sort()
  const out: TableLine[] = []
  for (const key of keys) {
    const list = groups.get(key)!
    const collapsed = t.collapsed[key] === true
    let params = 0
    let bytes = 0
    for (const r of list) {
      params += r.elementCount
      bytes += r.bytes
    }
    out.push({ kind: 'group', key, tensors: list.length, params, bytes, collapsed })
    if (!collapsed) for (const row of list) out.push({ kind: 'tensor', row })
  }
  return out
}

/** The slice of lines a viewport shows (plus overscan), for the hand-written windowing. */
export function visibleWindow(
  total: number,
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  overscan = 8,
): { start: number; end: number } {
  const start = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan)
  const end = Math.min(total, Math.ceil((scrollTop + viewportHeight) / rowHeight) + overscan)
  return { start, end: Math.max(start, end) }
}

const csvCell = (v: string | number | null | undefined): string => {
  const s = v === null || v === undefined ? '' : String(v)
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** CSV of the rows as shown (after filter and sort). */
export function rowsToCsv(rows: TensorRow[]): string {
  const head = 'shard,tensor,dtype,shape,elements,bytes,layer,role,group,min,max,mean,std,abs_max,nan,inf,zero_fraction'
  const lines = rows.map((r) =>
    [
      r.shard,
      r.name,
      r.dtype,
      r.shape.join('x'),
      r.elementCount,
      r.bytes,
      r.layer,
      r.role,
      r.group,
      r.stats?.min,
      r.stats?.max,
      r.stats?.mean,
      r.stats?.std,
      r.stats?.absMax,
      r.stats?.nan,
      r.stats?.inf,
      r.stats?.zeroFraction,
    ]
      .map(csvCell)
      .join(','),
  )
  return `${[head, ...lines].join('\n')}\n`
}
