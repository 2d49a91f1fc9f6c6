// Small self-contained SVG charts for reports (no browser, no dependencies): line/scatter charts with linear or
// log axes, and grouped bar charts. Output is a standalone SVG document that any viewer or <img> shows.

export interface Series {
  name: string
  points: { x: number; y: number; label?: string }[]
  color: string
  /** Connect the points (sorted by x) with a line. */
  line?: boolean
  dashed?: boolean
  marker?: 'circle' | 'square' | 'diamond' | 'none'
}

export interface LineChart {
  title: string
  xLabel: string
  yLabel: string
  xLog?: boolean
  yLog?: boolean
  series: Series[]
  /** Dotted vertical guides, e.g. a baseline's size. */
  vLines?: { x: number; label: string }[]
  width?: number
  height?: number
}

export interface BarChart {
  title: string
  xLabel?: string
  yLabel: string
  categories: string[]
  series: { name: string; color: string; values: (number | null)[] }[]
  width?: number
  height?: number
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf']

const M = { left: 72, right: 24, top: 40, bottom: 56 }

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!)
}

const num = (x: number) => Number(x.toFixed(2))

function fmtTick(v: number): string {
  if (v === 0) return '0'
  const a = Math.abs(v)
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0).replace('e+', 'e')
  return String(Number(v.toPrecision(3)))
}

interface Axis {
  map(v: number): number
  ticks: number[]
}

function axis(values: number[], log: boolean, from: number, to: number): Axis {
  const vs = values.filter((v) => Number.isFinite(v) && (!log || v > 0))
  let lo = vs.length ? Math.min(...vs) : log ? 1 : 0
  let hi = vs.length ? Math.max(...vs) : log ? 10 : 1
  if (log) {
    let a = Math.floor(Math.log10(lo))
    let b = Math.ceil(Math.log10(hi))
    if (a === b) {
      a -= 1
      b += 1
    }
    const span = b - a
    const step = Math.max(1, Math.ceil(span / 8))
    const ticks: number[] = []
    for (let e = a; e <= b; e += step) ticks.push(10 ** e)
    return { map: (v) => from + ((Math.log10(v) - a) / span) * (to - from), ticks }
  }
  if (lo === hi) {
    lo -= 1
    hi += 1
  }
  const raw = (hi - lo) / 6
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= raw)!
  const a = Math.floor(lo / step) * step
  const b = Math.ceil(hi / step) * step
  const ticks: number[] = []
  for (let v = a; v <= b + step / 2; v += step) ticks.push(Number(v.toPrecision(12)))
  return { map: (v) => from + ((v - a) / (b - a)) * (to - from), ticks }
}

function marker(kind: Series['marker'], x: number, y: number, color: string, title: string): string {
  const t = `<title>${escapeXml(title)}</title>`
  switch (kind) {
    case 'none':
      return ''
    case 'square':
      return `<rect x="${num(x - 5)}" y="${num(y - 5)}" width="10" height="10" fill="${color}" stroke="#000" stroke-width="0.8">${t}</rect>`
    case 'diamond':
      return `<path d="M${num(x)} ${num(y - 7)}L${num(x + 7)} ${num(y)}L${num(x)} ${num(y + 7)}L${num(x - 7)} ${num(y)}Z" fill="${color}" stroke="#000" stroke-width="0.8">${t}</path>`
    default:
      return `<circle cx="${num(x)}" cy="${num(y)}" r="4" fill="${color}">${t}</circle>`
  }
}

function frame(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n')
}

export function lineChartSvg(c: LineChart): string {
  const width = c.width ?? 720
  const height = c.height ?? 440
  const x0 = M.left
  const x1 = width - M.right
  const y0 = height - M.bottom
  const y1 = M.top
  const xs = [...c.series.flatMap((s) => s.points.map((p) => p.x)), ...(c.vLines ?? []).map((v) => v.x)]
  const ys = c.series.flatMap((s) => s.points.map((p) => p.y))
  const X = axis(xs, !!c.xLog, x0, x1)
  const Y = axis(ys, !!c.yLog, y0, y1)
  const ok = (p: { x: number; y: number }) =>
    Number.isFinite(p.x) && Number.isFinite(p.y) && (!c.xLog || p.x > 0) && (!c.yLog || p.y > 0)
  const body: string[] = []
  // grid and ticks
  for (const t of X.ticks) {
    const x = num(X.map(t))
    body.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y1}" stroke="#e5e5e5"/>`)
    body.push(`<text x="${x}" y="${y0 + 16}" text-anchor="middle">${fmtTick(t)}</text>`)
  }
  for (const t of Y.ticks) {
    const y = num(Y.map(t))
    body.push(`<line x1="${x0}" y1="${y}" x2="${x1}" y2="${y}" stroke="#e5e5e5"/>`)
    body.push(`<text x="${x0 - 6}" y="${y + 4}" text-anchor="end">${fmtTick(t)}</text>`)
  }
  body.push(`<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" fill="none" stroke="#333"/>`)
  body.push(`<text x="${(x0 + x1) / 2}" y="${height - 14}" text-anchor="middle">${escapeXml(c.xLabel)}</text>`)
  body.push(
    `<text transform="translate(16 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(c.yLabel)}</text>`,
  )
  for (const v of c.vLines ?? []) {
    if (!ok({ x: v.x, y: c.yLog ? 1 : 0 })) continue
    const x = num(X.map(v.x))
    body.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y1}" stroke="#777" stroke-dasharray="2 3"/>`)
    body.push(`<text x="${x + 3}" y="${y0 - 6}" fill="#555" font-size="10">${escapeXml(v.label)}</text>`)
  }
  c.series.forEach((s) => {
    const pts = s.points.filter(ok).sort((a, b) => a.x - b.x)
    if (s.line && pts.length > 1) {
      const d = pts.map((p, i) => `${i ? 'L' : 'M'}${num(X.map(p.x))} ${num(Y.map(p.y))}`).join('')
      body.push(
        `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      )
    }
    for (const p of pts)
      body.push(
        marker(
          s.marker ?? 'circle',
          X.map(p.x),
          Y.map(p.y),
          s.color,
          `${s.name}${p.label ? ` ${p.label}` : ''}: (${p.x}, ${p.y})`,
        ),
      )
  })
  // legend, top right inside the plot
  const lx = x1 - 236
  let ly = y1 + 10
  body.push(
    `<rect x="${lx - 8}" y="${ly - 4}" width="240" height="${c.series.length * 18 + 6}" fill="#fff" fill-opacity="0.85" stroke="#ccc"/>`,
  )
  for (const s of c.series) {
    body.push(
      s.line
        ? `<line x1="${lx}" y1="${ly + 7}" x2="${lx + 22}" y2="${ly + 7}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`
        : '',
    )
    body.push(marker(s.marker ?? 'circle', lx + 11, ly + 7, s.color, s.name))
    body.push(`<text x="${lx + 30}" y="${ly + 11}">${escapeXml(s.name)}</text>`)
    ly += 18
  }
  return frame(width, height, c.title, body)
}

export function barChartSvg(c: BarChart): string {
  const width = c.width ?? 720
  const height = c.height ?? 400
  const x0 = M.left
  const x1 = width - M.right
  const y0 = height - M.bottom - 18
  const y1 = M.top + 18 * Math.ceil(c.series.length / 4)
  const values = c.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)))
  const Y = axis([0, ...values], false, y0, y1)
  const body: string[] = []
  for (const t of Y.ticks) {
    const y = num(Y.map(t))
    body.push(`<line x1="${x0}" y1="${y}" x2="${x1}" y2="${y}" stroke="#e5e5e5"/>`)
    body.push(`<text x="${x0 - 6}" y="${y + 4}" text-anchor="end">${fmtTick(t)}</text>`)
  }
  const slot = (x1 - x0) / Math.max(1, c.categories.length)
  const bw = (slot * 0.8) / Math.max(1, c.series.length)
  c.categories.forEach((cat, i) => {
    const cx = x0 + slot * i + slot * 0.1
    c.series.forEach((s, j) => {
      const v = s.values[i]
      if (v === null || v === undefined || !Number.isFinite(v)) return
      const top = Y.map(v)
      body.push(
        `<rect x="${num(cx + j * bw)}" y="${num(top)}" width="${num(bw * 0.92)}" height="${num(Y.map(0) - top)}" fill="${s.color}"><title>${escapeXml(`${s.name}, ${cat}: ${v}`)}</title></rect>`,
      )
    })
    body.push(`<text x="${num(x0 + slot * (i + 0.5))}" y="${y0 + 16}" text-anchor="middle">${escapeXml(cat)}</text>`)
  })
  body.push(`<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" fill="none" stroke="#333"/>`)
  body.push(
    `<text transform="translate(16 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(c.yLabel)}</text>`,
  )
  if (c.xLabel)
    body.push(`<text x="${(x0 + x1) / 2}" y="${y0 + 36}" text-anchor="middle">${escapeXml(c.xLabel)}</text>`)
  c.series.forEach((s, j) => {
    const lx = x0 + (j % 4) * ((x1 - x0) / 4)
    const ly = M.top + 18 * Math.floor(j / 4) - 6
    body.push(`<rect x="${lx}" y="${ly - 9}" width="12" height="12" fill="${s.color}"/>`)
    body.push(`<text x="${lx + 16}" y="${ly + 1}">${escapeXml(s.name)}</text>`)
  })
  return frame(width, height, c.title, body)
}
