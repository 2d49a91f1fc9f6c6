// Inventory: every tensor in a hand-windowed table (only the visible rows are in the DOM, so 100k tensors
// scroll smoothly), with sort, filter, grouping by layer/role/group, a detail pane and CSV export.
import { type KeyboardEvent, useEffect, useMemo, useRef, useState } from 'react'
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts'
import type { TensorRow } from '../../../src-main/core/api/contract'
import { ChartFrame } from '../components/ChartFrame'
import { saveText } from '../download'
import { formatBytes, formatCount, formatNumber } from '../format'
import { type GroupBy, rowsToCsv, type SortKey, type TableLine, tableLines, visibleWindow } from '../table'
import { useApp } from '../useApp'

const ROW = 28
const COLUMNS: { key: SortKey; label: string }[] = [
  { key: 'name', label: 'Tensor' },
  { key: 'dtype', label: 'dtype' },
  { key: 'elementCount', label: 'shape' },
  { key: 'bytes', label: 'bytes' },
  { key: 'role', label: 'role' },
  { key: 'layer', label: 'layer' },
  { key: 'std', label: 'std' },
  { key: 'absMax', label: 'abs max' },
  { key: 'shard', label: 'shard' },
]

function TensorLine({ id, row, selected, top }: { id: string; row: TensorRow; selected: boolean; top: number }) {
  return (
    <div
      id={id}
      className={`vrow${selected ? ' selected' : ''}`}
      style={{ top }}
      role="option"
      tabIndex={-1}
      aria-selected={selected}
      data-name={row.name}
    >
      <span title={row.name}>{row.name}</span>
      <span>{row.dtype}</span>
      <span>[{row.shape.join(', ')}]</span>
      <span className="num">{formatBytes(row.bytes)}</span>
      <span>{row.role}</span>
      <span className="num">{row.layer ?? ''}</span>
      <span className="num">{formatNumber(row.stats?.std)}</span>
      <span className="num">{formatNumber(row.stats?.absMax)}</span>
      <span title={row.shard}>{row.shard}</span>
    </div>
  )
}

function VirtualTable({ lines }: { lines: TableLine[] }) {
  const selected = useApp((s) => s.selected)
  const selectTensor = useApp((s) => s.selectTensor)
  const toggleGroup = useApp((s) => s.toggleGroup)
  const table = useApp((s) => s.table)
  const sortBy = useApp((s) => s.sortBy)
  const body = useRef<HTMLDivElement>(null)
  const [scrollTop, setScrollTop] = useState(0)
  const [height, setHeight] = useState(480)
  // The keyboard cursor moves over tensors and group headers alike; on a tensor it also selects it.
  const [cursor, setCursor] = useState(-1)

  useEffect(() => {
    const el = body.current
    if (!el) return
    const ro = new ResizeObserver(() => setHeight(el.clientHeight))
    ro.observe(el)
    return () => ro.disconnect()
  }, [])

  // A new filter, sort or grouping starts from the top, as a reader expects.
  // biome-ignore lint/correctness/useExhaustiveDependencies: these are the triggers, not inputs
  useEffect(() => {
    if (body.current) body.current.scrollTop = 0
    setScrollTop(0)
    setCursor(-1)
  }, [table.filter, table.groupBy, table.sortKey, table.sortDir])

  const { start, end } = visibleWindow(lines.length, scrollTop, height, ROW)
  const indexOfSelected = useMemo(
    () => lines.findIndex((l) => l.kind === 'tensor' && l.row.name === selected),
    [lines, selected],
  )
  const active = cursor >= 0 && cursor < lines.length ? cursor : indexOfSelected

  const moveTo = (i: number) => {
    const at = Math.max(0, Math.min(lines.length - 1, i))
    setCursor(at)
    const line = lines[at]
    if (line?.kind === 'tensor') void selectTensor(line.row.name)
    const el = body.current
    if (el && (at * ROW < el.scrollTop || (at + 1) * ROW > el.scrollTop + el.clientHeight))
      el.scrollTop = Math.max(0, at * ROW - el.clientHeight / 2)
  }

  const onKey = (e: KeyboardEvent) => {
    const page = Math.max(1, Math.floor(height / ROW))
    const moves: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page }
    if (e.key in moves) {
      e.preventDefault()
      moveTo((active < 0 ? (moves[e.key]! > 0 ? -1 : lines.length) : active) + moves[e.key]!)
    } else if (e.key === 'Home' || e.key === 'End') {
      e.preventDefault()
      moveTo(e.key === 'Home' ? 0 : lines.length - 1)
    } else if ((e.key === 'Enter' || e.key === ' ') && lines[active]?.kind === 'group') {
      e.preventDefault()
      toggleGroup((lines[active] as { key: string }).key)
    }
  }

  return (
    <section className="vtable" aria-label="Tensors">
      <div className="vhead">
        {COLUMNS.map((c) => (
          <button key={c.key} type="button" aria-label={`Sort by ${c.label}`} onClick={() => sortBy(c.key)}>
            {c.label}
            {table.sortKey === c.key ? (table.sortDir > 0 ? ' ▲' : ' ▼') : ''}
          </button>
        ))}
      </div>
      <div
        ref={body}
        className="vbody"
        role="listbox"
        aria-label="Tensors"
        aria-activedescendant={active >= 0 ? `line-${active}` : undefined}
        style={{ height: 'calc(100vh - 300px)', minHeight: 240 }}
        tabIndex={0}
        onKeyDown={onKey}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
        onClick={(e) => {
          const target = (e.target as HTMLElement).closest('[data-name],[data-group]') as HTMLElement | null
          if (!target) return
          setCursor(Number(target.id.replace('line-', '')))
          if (target.dataset.group !== undefined) toggleGroup(target.dataset.group)
          else if (target.dataset.name) void selectTensor(target.dataset.name)
        }}
        data-testid="inventory-body"
      >
        <span className="sr-only" aria-live="polite">
          {lines[active]?.kind === 'group'
            ? `Group ${(lines[active] as { key: string }).key}, Enter to fold or unfold`
            : selected
              ? `Selected ${selected}`
              : ''}
        </span>
        <div style={{ height: lines.length * ROW, position: 'relative' }}>
          {lines.slice(start, end).map((line, k) => {
            const top = (start + k) * ROW
            if (line.kind === 'group')
              return (
                <div
                  key={`g:${line.key}`}
                  id={`line-${start + k}`}
                  className={`vrow group${start + k === active ? ' selected' : ''}`}
                  style={{ top }}
                  role="option"
                  tabIndex={-1}
                  aria-selected={start + k === active}
                  data-group={line.key}
                >
                  <span>
                    {line.collapsed ? '▸' : '▾'} {line.key}
                  </span>
                  <span className="muted">{formatCount(line.tensors)} tensors</span>
                  <span className="muted">{formatCount(line.params)} parameters</span>
                  <span className="muted">{formatBytes(line.bytes)}</span>
                </div>
              )
            return (
              <TensorLine
                key={line.row.name}
                id={`tensor-${start + k}`}
                row={line.row}
                selected={line.row.name === selected}
                top={top}
              />
            )
          })}
        </div>
      </div>
    </section>
  )
}

function Detail() {
  const detail = useApp((s) => s.detail)
  const selected = useApp((s) => s.selected)
  if (!selected)
    return <p className="muted">Select a tensor (click, or arrow keys in the table) to see its statistics.</p>
  if (!detail) return <p className="muted">Loading {selected}…</p>
  const { row, histogram } = detail
  const bins =
    histogram?.counts.map((count, i) => {
      const w = (histogram.max - histogram.min) / histogram.counts.length
      return { x: formatNumber(histogram.min + (i + 0.5) * w, 3), count }
    }) ?? []
  const s = row.stats
  return (
    <div data-testid="tensor-detail">
      <h2 style={{ wordBreak: 'break-all' }}>{row.name}</h2>
      <table className="kv">
        <tbody>
          <tr>
            <td className="muted">dtype / shape</td>
            <td>
              {row.dtype} [{row.shape.join(', ')}]
            </td>
          </tr>
          <tr>
            <td className="muted">elements / bytes</td>
            <td>
              {formatCount(row.elementCount)} / {formatBytes(row.bytes)}
            </td>
          </tr>
          <tr>
            <td className="muted">role / group / layer</td>
            <td>
              {row.role} / {row.group} / {row.layer ?? '–'}
            </td>
          </tr>
          <tr>
            <td className="muted">shard</td>
            <td>{row.shard}</td>
          </tr>
          {s && (
            <>
              <tr>
                <td className="muted">min / max</td>
                <td>
                  {formatNumber(s.min, 4)} / {formatNumber(s.max, 4)}
                </td>
              </tr>
              <tr>
                <td className="muted">mean / std</td>
                <td>
                  {formatNumber(s.mean, 4)} / {formatNumber(s.std, 4)}
                </td>
              </tr>
              <tr>
                <td className="muted">abs max</td>
                <td>{formatNumber(s.absMax, 4)}</td>
              </tr>
              <tr>
                <td className="muted">NaN / Inf / zeros</td>
                <td>
                  {s.nan} / {s.inf} / {(s.zeroFraction * 100).toFixed(2)} %
                </td>
              </tr>
            </>
          )}
        </tbody>
      </table>
      {bins.length > 0 && (
        <ChartFrame title="Histogram" fileName={`histogram-${row.name}`} height={200}>
          <ResponsiveContainer>
            <BarChart data={bins} margin={{ top: 20, right: 8, bottom: 0, left: 0 }}>
              <CartesianGrid strokeDasharray="3 3" opacity={0.3} />
              <XAxis dataKey="x" fontSize={10} interval="preserveStartEnd" />
              <YAxis fontSize={10} width={44} />
              <Tooltip />
              <Bar dataKey="count" fill="#4f7cf0" isAnimationActive={false} />
            </BarChart>
          </ResponsiveContainer>
        </ChartFrame>
      )}
    </div>
  )
}

export function InventoryView() {
  const inventory = useApp((s) => s.inventory)
  const model = useApp((s) => s.model)
  const progress = useApp((s) => s.inventoryProgress)
  const table = useApp((s) => s.table)
  const setTable = useApp((s) => s.setTable)
  const lines = useMemo(() => (inventory ? tableLines(inventory.tensors, table) : []), [inventory, table])
  const shownRows = useMemo(() => lines.flatMap((l) => (l.kind === 'tensor' ? [l.row] : [])), [lines])

  if (!model) return <p className="muted">Open a model first.</p>
  if (!inventory)
    return (
      <div className="panel">
        <p>Reading {model.name}…</p>
        {progress && (
          <div
            className="progress"
            role="progressbar"
            aria-valuenow={progress.bytesDone}
            aria-valuemax={progress.bytesTotal}
          >
            <div style={{ width: `${(100 * progress.bytesDone) / Math.max(1, progress.bytesTotal)}%` }} />
          </div>
        )}
      </div>
    )
  return (
    <div className="inventory">
      <section>
        <div className="row" style={{ marginBottom: 8 }}>
          <span data-testid="inventory-count">
            {formatCount(inventory.totals.tensors)} tensors · {formatCount(inventory.totals.params)} parameters ·{' '}
            {formatBytes(inventory.totals.bytes)}
          </span>
          <input
            aria-label="Filter tensors"
            placeholder="filter: name, role, dtype…"
            value={table.filter}
            onChange={(e) => setTable({ filter: e.target.value })}
            style={{ marginLeft: 'auto', width: 240 }}
          />
          <label htmlFor="group-by">Group by</label>
          <select
            id="group-by"
            value={table.groupBy}
            onChange={(e) => setTable({ groupBy: e.target.value as GroupBy, collapsed: {} })}
          >
            <option value="none">nothing</option>
            <option value="layer">layer</option>
            <option value="role">role</option>
            <option value="group">group</option>
          </select>
          <button type="button" onClick={() => saveText(rowsToCsv(shownRows), `${model.name}-inventory.csv`)}>
            Export CSV
          </button>
        </div>
        <p className="muted" style={{ margin: '0 0 6px' }} data-testid="inventory-shown">
          {formatCount(shownRows.length)} shown
        </p>
        <VirtualTable lines={lines} />
      </section>
      <aside className="panel">
        <Detail />
      </aside>
    </div>
  )
}
