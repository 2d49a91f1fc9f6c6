// Turns a Hugging Face tokenizer (tokenizer.json + tokenizer_config.json + config.json) into GGUF vocabulary
// metadata: SentencePiece-style BPE with byte fallback → `llama`, byte-level BPE → `gpt2` with its `pre` type
// (FORMATS.md §B–C).
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { TokenType } from './constants'
import { GgufError } from './errors'
import type { GgufWriter } from './writer'

export interface GgufVocab {
  model: 'llama' | 'gpt2'
  pre: string
  tokens: string[]
  tokenTypes: number[]
  /** SentencePiece scores (llama model only). */
  scores?: number[]
  /** "a b" merges (gpt2 model only). */
  merges?: string[]
  bos?: number
  eos?: number
  unk?: number
  pad?: number
  addBos?: boolean
  addEos?: boolean
  addSpacePrefix?: boolean
  chatTemplate?: string
}

type Json = Record<string, unknown>

interface AddedToken {
  id: number
  content: string
  special?: boolean
}

// The pre-tokenizer regexes llama.cpp knows by name (src/llama-vocab.cpp), as tokenizer.json spells them.
const QWEN2_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

function readJson(file: string): Json {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Json
  } catch (err) {
    throw new GgufError('GGUF_BAD_CONFIG', `${file} could not be read as JSON: ${(err as Error).message}.`, { file })
  }
}

function readJsonIfExists(file: string): Json {
  return existsSync(file) ? readJson(file) : {}
}

/** A pre-tokenizer's name as llama.cpp spells it, read from tokenizer.json rather than by hashing a test text. */
export function classifyPreTokenizer(preTokenizer: unknown, file = 'tokenizer.json'): string {
  const pt = (preTokenizer ?? {}) as Json
  if (pt.type === 'ByteLevel' && pt.use_regex !== false) return 'gpt-2'
  if (pt.type === 'Sequence' && Array.isArray(pt.pretokenizers)) {
    const parts = pt.pretokenizers as Json[]
    const kinds = parts.map((p) => p.type).join(',')
    if (kinds === 'Digits,ByteLevel' && (parts[0]!.individual_digits as boolean) && parts[1]!.use_regex !== false) {
      return 'smollm'
    }
    if (kinds === 'Split,ByteLevel' && parts[1]!.use_regex === false) {
      const regex = ((parts[0]!.pattern ?? {}) as Json).Regex
      if (regex === QWEN2_REGEX) return 'qwen2'
      if (regex === LLAMA3_REGEX) return 'llama-bpe'
    }
  }
  throw new GgufError(
    'GGUF_UNSUPPORTED_TOKENIZER',
    `The pre-tokenizer in ${file} is not one llama.cpp knows by name (supported: gpt-2, llama-bpe, qwen2, smollm).`,
    { file },
  )
}

function hasSpacePrefix(tok: Json): boolean {
  const walk = (n: unknown, key: 'normalizers' | 'pretokenizers'): boolean => {
    const node = (n ?? {}) as Json
    if (node.type === 'Sequence' && Array.isArray(node[key])) return (node[key] as unknown[]).some((x) => walk(x, key))
    if (node.type === 'Prepend' && node.prepend === '\u2581') return true
    if (node.type === 'Metaspace') return node.prepend_scheme !== 'never' && node.add_prefix_space !== false
    return false
  }
  return walk(tok.normalizer, 'normalizers') || walk(tok.pre_tokenizer, 'pretokenizers')
}

function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string
  return undefined
}

/** Reads the vocabulary of the model folder `dir`. `vocabSize` pads with `[PAD{i}]` to the embedding's row count. */
export function loadVocab(dir: string, vocabSize?: number): GgufVocab {
  const tokFile = join(dir, 'tokenizer.json')
  if (!existsSync(tokFile)) {
    throw new GgufError('GGUF_MISSING_FILE', `${dir} has no tokenizer.json; only fast tokenizers are converted.`, {
      file: tokFile,
    })
  }
  const tok = readJson(tokFile)
  const tcfg = readJsonIfExists(join(dir, 'tokenizer_config.json'))
  const cfg = readJsonIfExists(join(dir, 'config.json'))
  const model = (tok.model ?? {}) as Json
  if (model.type !== 'BPE') {
    throw new GgufError(
      'GGUF_UNSUPPORTED_TOKENIZER',
      `${tokFile} uses a ${String(model.type)} model; only BPE tokenizers are converted.`,
      { file: tokFile },
    )
  }
  const vocab = (model.vocab ?? {}) as Record<string, number>
  const added = (Array.isArray(tok.added_tokens) ? tok.added_tokens : []) as AddedToken[]
  const byId = new Map<number, string>()
  for (const [t, id] of Object.entries(vocab)) byId.set(id, t)
  const addedById = new Map<number, AddedToken>()
  for (const a of added) {
    byId.set(a.id, a.content)
    addedById.set(a.id, a)
  }
  let n = 0
  for (const id of byId.keys()) n = Math.max(n, id + 1)
  if (vocabSize !== undefined && vocabSize > n) n = vocabSize
  const idOf = (content: string | undefined): number | undefined => {
    if (content === undefined) return undefined
    const a = added.find((x) => x.content === content)
    return a ? a.id : vocab[content]
  }

  const spm = model.byte_fallback === true
  const unkId = idOf(tokenContent(tcfg.unk_token)) ?? idOf(model.unk_token as string | undefined)
  const tokens: string[] = new Array(n)
  const tokenTypes: number[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const t = byId.get(i)
    if (t === undefined) {
      tokens[i] = `[PAD${i}]`
      tokenTypes[i] = TokenType.unused
      continue
    }
    tokens[i] = t
    const a = addedById.get(i)
    if (spm && i === unkId) tokenTypes[i] = TokenType.unknown
    else if (a) tokenTypes[i] = a.special ? TokenType.control : TokenType.userDefined
    else if (spm && /^<0x[0-9A-F]{2}>$/.test(t)) tokenTypes[i] = TokenType.byte
    else tokenTypes[i] = TokenType.normal
  }

  const rawMerges = (Array.isArray(model.merges) ? model.merges : []) as (string | [string, string])[]
  const mergePair = (m: string | [string, string]): [string, string] => {
    if (Array.isArray(m)) return m
    const sp = m.indexOf(' ', 1)
    return [m.slice(0, sp), m.slice(sp + 1)]
  }

  const v: GgufVocab = { model: spm ? 'llama' : 'gpt2', pre: 'default', tokens, tokenTypes }
  if (spm) {
    // llama.cpp's SPM tokenizer merges the highest-scoring bigram first, so a token's score is minus the rank of
    // the first merge that makes it: the same order HF's BPE applies merges in.
    const rank = new Map<string, number>()
    rawMerges.forEach((m, r) => {
      const [a, b] = mergePair(m)
      if (!rank.has(a + b)) rank.set(a + b, r)
    })
    v.scores = tokens.map((t, i) => {
      if (tokenTypes[i] === TokenType.userDefined) return -1000
      if (tokenTypes[i] !== TokenType.normal) return 0
      const r = rank.get(t)
      return r === undefined ? -(rawMerges.length + i) : -r
    })
    v.addSpacePrefix = hasSpacePrefix(tok)
  } else {
    v.pre = classifyPreTokenizer(tok.pre_tokenizer, tokFile)
    v.merges = rawMerges.map((m) => {
      const [a, b] = mergePair(m)
      return `${a} ${b}`
    })
  }

  const cfgId = (key: string): number | undefined => {
    const x = cfg[key]
    if (typeof x === 'number') return x
    if (Array.isArray(x) && typeof x[0] === 'number') return x[0] as number
    return undefined
  }
  const special = (name: 'bos' | 'eos' | 'unk' | 'pad'): number | undefined =>
    idOf(tokenContent(tcfg[`${name}_token`])) ?? cfgId(`${name}_token_id`)
  const bos = special('bos')
  const eos = special('eos')
  const pad = special('pad')
  if (bos !== undefined) v.bos = bos
  if (eos !== undefined) v.eos = eos
  if (unkId !== undefined) v.unk = unkId
  if (pad !== undefined) v.pad = pad

  if (typeof tcfg.add_bos_token === 'boolean') v.addBos = tcfg.add_bos_token
  else {
    const pp = (tok.post_processor ?? {}) as Json
    if (pp.type === 'TemplateProcessing' && Array.isArray(pp.single)) {
      const first = pp.single[0] as Json | undefined
      v.addBos = first?.SpecialToken !== undefined
    }
  }
  if (typeof tcfg.add_eos_token === 'boolean') v.addEos = tcfg.add_eos_token

  const template = tcfg.chat_template
  if (typeof template === 'string') v.chatTemplate = template
  else if (Array.isArray(template)) {
    const def = (template as Json[]).find((t) => t.name === 'default')
    if (def && typeof def.template === 'string') v.chatTemplate = def.template
  } else if (existsSync(join(dir, 'chat_template.jinja'))) {
    v.chatTemplate = readFileSync(join(dir, 'chat_template.jinja'), 'utf8')
  }
  return v
}

/** Writes `tokenizer.ggml.*` and `tokenizer.chat_template` with the types llama.cpp's loader expects. */
export function writeVocab(w: GgufWriter, v: GgufVocab): void {
  w.str('tokenizer.ggml.model', v.model)
  w.str('tokenizer.ggml.pre', v.pre)
  w.array('tokenizer.ggml.tokens', 'str', v.tokens)
  if (v.scores) w.array('tokenizer.ggml.scores', 'f32', v.scores)
  w.array('tokenizer.ggml.token_type', 'i32', v.tokenTypes)
  if (v.merges) w.array('tokenizer.ggml.merges', 'str', v.merges)
  if (v.bos !== undefined) w.u32('tokenizer.ggml.bos_token_id', v.bos)
  if (v.eos !== undefined) w.u32('tokenizer.ggml.eos_token_id', v.eos)
  if (v.unk !== undefined) w.u32('tokenizer.ggml.unknown_token_id', v.unk)
  if (v.pad !== undefined) w.u32('tokenizer.ggml.padding_token_id', v.pad)
  if (v.addBos !== undefined) w.bool('tokenizer.ggml.add_bos_token', v.addBos)
  if (v.addEos !== undefined) w.bool('tokenizer.ggml.add_eos_token', v.addEos)
  if (v.addSpacePrefix !== undefined) w.bool('tokenizer.ggml.add_space_prefix', v.addSpacePrefix)
  if (v.chatTemplate !== undefined) w.str('tokenizer.chat_template', v.chatTemplate)
}
