// Number formatting for the views: bytes, counts, ratios and bounds the way a reader expects them.
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–'
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let v = n
  let u = 0
  while (Math.abs(v) >= 1000 && u < units.length - 1) {
    v /= 1000
    u++
  }
  return `${u === 0 ? v.toFixed(0) : v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`
}

export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–'
  return n.toLocaleString('en-US')
}

export function formatNumber(n: number | null | undefined, digits = 3): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–'
  if (n === 0) return '0'
  const a = Math.abs(n)
  if (a >= 1e5 || a < 1e-3) return n.toExponential(digits - 1)
  return Number(n.toPrecision(digits)).toString()
}

export const formatBound = (b: number): string => (b === 0 ? '0' : b.toExponential(2))

export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '–'
  if (seconds < 60) return `${Math.ceil(seconds)} s`
  const m = Math.floor(seconds / 60)
  return `${m} min ${Math.round(seconds - m * 60)} s`
}
