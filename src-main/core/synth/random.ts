// Deterministic randomness for synthetic weights: xoshiro128** seeded through splitmix32, plus a table of
// Student-t quantiles so a heavy-tailed value costs one lookup.

/** Seed for a named stream: FNV-1a of the name mixed with the user's seed. */
export function streamSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0)
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193)
  h = Math.imul((h ^ (seed / 4294967296)) | 0, 0x9e3779b1)
  return h >>> 0
}

/** xoshiro128** (Blackman & Vigna): 32-bit outputs, period 2^128 − 1; state filled by splitmix32. */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seed: number) {
    let s = seed >>> 0
    const next = () => {
      s = (s + 0x9e3779b9) | 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return z ^ (z >>> 16)
    }
    this.a = next()
    this.b = next()
    this.c = next()
    this.d = next()
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1
  }

  /** Next 32 random bits as an unsigned integer. */
  u32(): number {
    const r = Math.imul(this.b, 5)
    const result = Math.imul((r << 7) | (r >>> 25), 9) >>> 0
    const t = this.b << 9
    this.c ^= this.a
    this.d ^= this.b
    this.b ^= this.c
    this.a ^= this.d
    this.c ^= t
    this.d = (this.d << 11) | (this.d >>> 21)
    return result
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.u32() / 4294967296
  }

  /** Standard normal (Box–Muller; one of the pair is dropped for simplicity). */
  normal(): number {
    const u = 1 - this.uniform()
    const v = this.uniform()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }
}

/** CDF of Student's t with 5 degrees of freedom, in closed form through θ = atan(t/√5). */
function studentT5Cdf(t: number): number {
  const th = Math.atan(t / Math.sqrt(5))
  const c = Math.cos(th)
  return 0.5 + (th + Math.sin(th) * c * (1 + (2 / 3) * c * c)) / Math.PI
}

let table: Float32Array | undefined

/**
 * 65536 quantiles of Student-t(5) rescaled to unit variance (ν/(ν−2) = 5/3): index with 16 random bits for a
 * heavy-tailed value (kurtosis 9, tails out to about ±14 σ at the extreme entries).
 */
export function heavyTailTable(): Float32Array {
  if (table) return table
  const n = 65536
  const t = new Float32Array(n)
  const norm = Math.sqrt(3 / 5)
  for (let i = 0; i < n; i++) {
    const p = (i + 0.5) / n
    let lo = -200
    let hi = 200
    for (let k = 0; k < 60; k++) {
      const mid = (lo + hi) / 2
      if (studentT5Cdf(mid) < p) lo = mid
      else hi = mid
    }
    t[i] = ((lo + hi) / 2) * norm
  }
  table = t
  return t
}
