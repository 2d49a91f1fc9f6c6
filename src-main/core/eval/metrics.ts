// Numbers that compare two models' outputs: per-position divergence statistics (llama-perplexity's
// --kl-divergence figures, FORMATS.md §E) and text overlap of generations (ROUGE-L, BLEU-4), our own code.

/** Mean and its standard error sqrt(var/(N−1)), as llama-perplexity reports them. */
export function meanWithError(values: ArrayLike<number>): { mean: number; stderr: number } {
  const n = values.length
  if (n === 0) return { mean: Number.NaN, stderr: Number.NaN }
  let s = 0
  let s2 = 0
  for (let i = 0; i < n; i++) {
    s += values[i]!
    s2 += values[i]! * values[i]!
  }
  const mean = s / n
  const variance = s2 / n - mean * mean
  return { mean, stderr: n > 1 ? Math.sqrt(Math.max(0, variance) / (n - 1)) : 0 }
}

/** Percentile of sorted values, linearly interpolated at f·(N−1). */
export function percentile(sorted: ArrayLike<number>, f: number): number {
  const n = sorted.length
  if (n === 0) return Number.NaN
  const x = f * (n - 1)
  const lo = Math.floor(x)
  const hi = Math.min(n - 1, lo + 1)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (x - lo)
}

/** Longest common subsequence length (two-row dynamic programme). */
export function lcsLength<T>(a: readonly T[], b: readonly T[]): number {
  if (a.length === 0 || b.length === 0) return 0
  let prev = new Uint32Array(b.length + 1)
  let cur = new Uint32Array(b.length + 1)
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, cur[j - 1]!)
    }
    ;[prev, cur] = [cur, prev]
  }
  return prev[b.length]!
}

/** ROUGE-L F1 of a candidate against a reference (both as token or word sequences). */
export function rougeL<T>(candidate: readonly T[], reference: readonly T[]): number {
  if (candidate.length === 0 && reference.length === 0) return 1
  const lcs = lcsLength(candidate, reference)
  if (lcs === 0) return 0
  const p = lcs / candidate.length
  const r = lcs / reference.length
  return (2 * p * r) / (p + r)
}

function ngramCounts<T>(seq: readonly T[], n: number): Map<string, number> {
  const m = new Map<string, number>()
  for (let i = 0; i + n <= seq.length; i++) {
    const key = JSON.stringify(seq.slice(i, i + n))
    m.set(key, (m.get(key) ?? 0) + 1)
  }
  return m
}

/**
 * Sentence BLEU-4: geometric mean of clipped n-gram precisions (n = 1..4) times the brevity penalty. Orders above 1
 * use add-one smoothing (Lin & Och 2004) so one missing 4-gram does not zero a short generation's score.
 */
export function bleu<T>(candidate: readonly T[], reference: readonly T[], maxN = 4): number {
  if (candidate.length === 0) return reference.length === 0 ? 1 : 0
  let logSum = 0
  for (let n = 1; n <= maxN; n++) {
    const cand = ngramCounts(candidate, n)
    const ref = ngramCounts(reference, n)
    let match = 0
    let total = 0
    for (const [k, c] of cand) {
      total += c
      match += Math.min(c, ref.get(k) ?? 0)
    }
    const p = n === 1 ? (total === 0 ? 0 : match / total) : (match + 1) / (total + 1)
    if (p === 0) return 0
    logSum += Math.log(p) / maxN
  }
  const bp = candidate.length >= reference.length ? 1 : Math.exp(1 - reference.length / candidate.length)
  return bp * Math.exp(logSum)
}

/** Index of the first position where two token sequences differ, or -1 when they are identical. */
export function firstDivergence<T>(a: readonly T[], b: readonly T[]): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i
  return a.length === b.length ? -1 : n
}

export function words(text: string): string[] {
  return text.split(/\s+/).filter(Boolean)
}
