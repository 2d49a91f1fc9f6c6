// A strict JSON parser shaped after serde_json (the reference reader's parser): it keeps integers beyond 2^53
// exact (as bigint), tells integer literals from fractional ones, reports duplicate keys instead of silently
// keeping the last one (JSON.parse does), and bounds nesting depth so hostile input cannot exhaust the stack.

/** A number literal with a fraction or an exponent (serde reads it as f64, never as an integer). */
export class JsonFloat {
  constructor(
    readonly value: number,
    readonly text: string,
  ) {}
}

export type JsonObject = Map<string, JsonValue>
export type JsonValue = null | boolean | string | number | bigint | JsonFloat | JsonValue[] | JsonObject

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message)
    this.name = 'JsonSyntaxError'
  }
}

export interface DuplicateKey {
  /** Keys leading to the object that holds the duplicate ([] = the top-level object). */
  path: string[]
  key: string
}

export interface ParsedJson {
  value: JsonValue
  /** The first duplicate key met in document order, if any (the parse itself still completes). */
  duplicate?: DuplicateKey
}

const MAX_DEPTH = 128

export function parseStrictJson(text: string): ParsedJson {
  const p = new JsonParser(text)
  p.skipWs()
  const value = p.value(0)
  p.skipWs()
  if (p.pos < text.length) p.fail('trailing characters after the JSON value')
  return p.duplicate ? { value, duplicate: p.duplicate } : { value }
}

/** The parser's state and value readers; the header reader extends it with a fast path for tensor entries. */
export class JsonParser {
  pos = 0
  duplicate: DuplicateKey | undefined
  /** path[d - 1] = the key being read in the object at depth d (cheaper than push/pop per key). */
  readonly path: string[] = []

  constructor(readonly s: string) {}

  fail(msg: string): never {
    throw new JsonSyntaxError(`${msg} at character ${this.pos}`, this.pos)
  }

  skipWs(): void {
    const s = this.s
    let i = this.pos
    for (;;) {
      const c = s.charCodeAt(i)
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++
      else break
    }
    this.pos = i
  }

  value(depth: number): JsonValue {
    const c = this.s.charCodeAt(this.pos)
    switch (c) {
      case 0x7b: // {
        return this.object(depth + 1)
      case 0x5b: // [
        return this.array(depth + 1)
      case 0x22: // "
        return this.string()
      case 0x74: // t
        return this.literal('true', true)
      case 0x66: // f
        return this.literal('false', false)
      case 0x6e: // n
        return this.literal('null', null)
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number()
        if (Number.isNaN(c)) this.fail('unexpected end of input')
        return this.fail(`unexpected character ${JSON.stringify(this.s[this.pos])}`)
    }
  }

  private literal<T>(word: string, v: T): T {
    if (this.s.startsWith(word, this.pos)) {
      this.pos += word.length
      return v
    }
    return this.fail('invalid literal')
  }

  object(depth: number): JsonObject {
    if (depth > MAX_DEPTH) this.fail('nesting too deep')
    const out: JsonObject = new Map()
    this.pos++
    this.skipWs()
    if (this.s.charCodeAt(this.pos) === 0x7d) {
      this.pos++
      return out
    }
    for (;;) {
      if (this.s.charCodeAt(this.pos) !== 0x22) this.fail('expected a string key')
      const key = this.string()
      this.skipWs()
      if (this.s.charCodeAt(this.pos) !== 0x3a) this.fail("expected ':'")
      this.pos++
      this.skipWs()
      this.path[depth - 1] = key
      const v = this.value(depth)
      if (out.has(key)) {
        if (!this.duplicate) this.duplicate = { path: this.path.slice(0, depth - 1), key }
      } else out.set(key, v)
      this.skipWs()
      const c = this.s.charCodeAt(this.pos)
      if (c === 0x2c) {
        this.pos++
        this.skipWs()
      } else if (c === 0x7d) {
        this.pos++
        return out
      } else this.fail("expected ',' or '}'")
    }
  }

  array(depth: number): JsonValue[] {
    if (depth > MAX_DEPTH) this.fail('nesting too deep')
    const out: JsonValue[] = []
    this.pos++
    this.skipWs()
    if (this.s.charCodeAt(this.pos) === 0x5d) {
      this.pos++
      return out
    }
    for (;;) {
      out.push(this.value(depth))
      this.skipWs()
      const c = this.s.charCodeAt(this.pos)
      if (c === 0x2c) {
        this.pos++
        this.skipWs()
      } else if (c === 0x5d) {
        this.pos++
        return out
      } else this.fail("expected ',' or ']'")
    }
  }

  string(): string {
    const s = this.s
    const start = this.pos + 1
    let i = start
    for (;;) {
      const c = s.charCodeAt(i)
      if (c === 0x22) {
        this.pos = i + 1
        return s.slice(start, i)
      }
      if (c === 0x5c) break
      if (c < 0x20) {
        this.pos = i
        this.fail(Number.isNaN(c) ? 'unterminated string' : 'control character in string')
      }
      if (Number.isNaN(c)) {
        this.pos = i
        this.fail('unterminated string')
      }
      i++
    }
    // Slow path: escapes present.
    let out = s.slice(start, i)
    for (;;) {
      const c = s.charCodeAt(i)
      if (c === 0x22) {
        this.pos = i + 1
        return out
      }
      if (Number.isNaN(c)) {
        this.pos = i
        this.fail('unterminated string')
      }
      if (c < 0x20) {
        this.pos = i
        this.fail('control character in string')
      }
      if (c !== 0x5c) {
        let j = i + 1
        for (;;) {
          const d = s.charCodeAt(j)
          if (d === 0x22 || d === 0x5c || d < 0x20 || Number.isNaN(d)) break
          j++
        }
        out += s.slice(i, j)
        i = j
        continue
      }
      const e = s.charCodeAt(i + 1)
      i += 2
      switch (e) {
        case 0x22:
          out += '"'
          break
        case 0x5c:
          out += '\\'
          break
        case 0x2f:
          out += '/'
          break
        case 0x62:
          out += '\b'
          break
        case 0x66:
          out += '\f'
          break
        case 0x6e:
          out += '\n'
          break
        case 0x72:
          out += '\r'
          break
        case 0x74:
          out += '\t'
          break
        case 0x75: {
          const u = this.hex4(i)
          i += 4
          if (u >= 0xd800 && u <= 0xdbff) {
            if (s.charCodeAt(i) !== 0x5c || s.charCodeAt(i + 1) !== 0x75) {
              this.pos = i
              this.fail('lone leading surrogate in \\u escape')
            }
            const lo = this.hex4(i + 2)
            if (lo < 0xdc00 || lo > 0xdfff) {
              this.pos = i
              this.fail('invalid trailing surrogate in \\u escape')
            }
            i += 6
            out += String.fromCharCode(u, lo)
          } else if (u >= 0xdc00 && u <= 0xdfff) {
            this.pos = i - 6
            this.fail('lone trailing surrogate in \\u escape')
          } else out += String.fromCharCode(u)
          break
        }
        default:
          this.pos = i - 1
          this.fail('invalid escape')
      }
    }
  }

  private hex4(i: number): number {
    let v = 0
    for (let k = 0; k < 4; k++) {
      const c = this.s.charCodeAt(i + k)
      let d: number
      if (c >= 0x30 && c <= 0x39) d = c - 0x30
      else if (c >= 0x61 && c <= 0x66) d = c - 0x57
      else if (c >= 0x41 && c <= 0x46) d = c - 0x37
      else {
        this.pos = i + k
        return this.fail('invalid \\u escape')
      }
      v = v * 16 + d
    }
    return v
  }

  number(): number | bigint | JsonFloat {
    const s = this.s
    const start = this.pos
    let i = start
    if (s.charCodeAt(i) === 0x2d) i++
    const first = s.charCodeAt(i)
    if (first === 0x30) i++
    else if (first >= 0x31 && first <= 0x39) {
      i++
      while (isDigit(s.charCodeAt(i))) i++
    } else {
      this.pos = i
      this.fail('invalid number')
    }
    let integer = true
    if (s.charCodeAt(i) === 0x2e) {
      integer = false
      i++
      if (!isDigit(s.charCodeAt(i))) {
        this.pos = i
        this.fail('invalid number')
      }
      while (isDigit(s.charCodeAt(i))) i++
    }
    const e = s.charCodeAt(i)
    if (e === 0x65 || e === 0x45) {
      integer = false
      i++
      const sign = s.charCodeAt(i)
      if (sign === 0x2b || sign === 0x2d) i++
      if (!isDigit(s.charCodeAt(i))) {
        this.pos = i
        this.fail('invalid number')
      }
      while (isDigit(s.charCodeAt(i))) i++
    }
    this.pos = i
    if (integer && i - start <= 15 && s.charCodeAt(start) !== 0x2d) {
      let v = 0
      for (let k = start; k < i; k++) v = v * 10 + (s.charCodeAt(k) - 0x30)
      return v
    }
    const text = s.slice(start, i)
    if (!integer) {
      const v = Number(text)
      if (!Number.isFinite(v)) this.fail('number out of range')
      return new JsonFloat(v, text)
    }
    // Up to 15 digits always fits a double exactly; longer literals are checked against 2^53.
    if (i - start <= 15) return Number(text)
    const big = BigInt(text)
    return big <= MAX_SAFE && big >= -MAX_SAFE ? Number(big) : big
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39
}
