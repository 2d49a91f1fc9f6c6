// Small hand-written payload validators: every value that crosses a process boundary goes through one of these
// before any service code sees it. A failure names the field, so the user gets one sentence, not a stack.

export class ApiError extends Error {
  readonly code: string
  readonly file: string | undefined
  readonly tensor: string | undefined
  constructor(code: string, message: string, where: { file?: string; tensor?: string } = {}) {
    super(message)
    this.name = 'ApiError'
    this.code = code
    this.file = where.file
    this.tensor = where.tensor
  }
}

/** A validator checks a value and returns it typed, or throws an ApiError with code INVALID_PAYLOAD. */
export type Check<T> = (value: unknown, at: string) => T

function fail(at: string, expected: string, value: unknown): never {
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value
  throw new ApiError('INVALID_PAYLOAD', `${at} must be ${expected}, got ${got}.`)
}

export const str =
  (opts: { max?: number; nonEmpty?: boolean } = {}): Check<string> =>
  (v, at) => {
    if (typeof v !== 'string') fail(at, 'a string', v)
    if (opts.nonEmpty && v.length === 0) fail(at, 'a non-empty string', v)
    if (v.length > (opts.max ?? 4096))
      throw new ApiError('INVALID_PAYLOAD', `${at} is longer than ${opts.max ?? 4096}.`)
    return v
  }

export const num =
  (opts: { min?: number; max?: number; integer?: boolean } = {}): Check<number> =>
  (v, at) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(at, 'a finite number', v)
    if (opts.integer && !Number.isInteger(v)) fail(at, 'an integer', v)
    if (opts.min !== undefined && v < opts.min) throw new ApiError('INVALID_PAYLOAD', `${at} must be ≥ ${opts.min}.`)
    if (opts.max !== undefined && v > opts.max) throw new ApiError('INVALID_PAYLOAD', `${at} must be ≤ ${opts.max}.`)
    return v
  }

export const bool = (): Check<boolean> => (v, at) => {
  if (typeof v !== 'boolean') fail(at, 'true or false', v)
  return v
}

export const oneOf =
  <T extends string>(...values: readonly T[]): Check<T> =>
  (v, at) => {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) fail(at, `one of ${values.join(', ')}`, v)
    return v as T
  }

export const optional =
  <T>(check: Check<T>): Check<T | undefined> =>
  (v, at) =>
    v === undefined || v === null ? undefined : check(v, at)

export const arr =
  <T>(item: Check<T>, max = 100_000): Check<T[]> =>
  (v, at) => {
    if (!Array.isArray(v)) fail(at, 'an array', v)
    if (v.length > max) throw new ApiError('INVALID_PAYLOAD', `${at} has more than ${max} items.`)
    return v.map((x, i) => item(x, `${at}[${i}]`))
  }

type Shape = Record<string, Check<unknown>>
type FromShape<S extends Shape> = { [K in keyof S]: ReturnType<S[K]> }

/** An object with exactly these fields (unknown fields are refused: they usually mean a typo or a mismatch). */
export const obj =
  <S extends Shape>(shape: S): Check<FromShape<S>> =>
  (v, at) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(at, 'an object', v)
    const src = v as Record<string, unknown>
    for (const key of Object.keys(src)) {
      if (!(key in shape)) throw new ApiError('INVALID_PAYLOAD', `${at}.${key} is not a known field.`)
    }
    const out: Record<string, unknown> = {}
    for (const [key, check] of Object.entries(shape)) {
      const value = check(src[key], `${at}.${key}`)
      if (value !== undefined) out[key] = value
    }
    return out as FromShape<S>
  }

/** A plain record of string keys to values of one kind (e.g. per-group bounds). */
export const record =
  <T>(item: Check<T>, maxKeys = 1000): Check<Record<string, T>> =>
  (v, at) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(at, 'an object', v)
    const entries = Object.entries(v as Record<string, unknown>)
    if (entries.length > maxKeys) throw new ApiError('INVALID_PAYLOAD', `${at} has more than ${maxKeys} keys.`)
    const out: Record<string, T> = {}
    for (const [k, x] of entries) out[k] = item(x, `${at}.${k}`)
    return out
  }

export const none = (): Check<undefined> => (v, at) => {
  if (v !== undefined && v !== null) fail(at, 'empty', v)
  return undefined
}
