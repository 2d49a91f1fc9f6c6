// Deterministic pseudo-random bytes for tests that need data without structure (a small LCG's top bytes).

/** n bytes from an LCG seeded with `seed`: the same bytes for the same seed on every run. */
export function noiseBytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    b[i] = s >>> 24
  }
  return b
}
