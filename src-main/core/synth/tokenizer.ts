// A small but real byte-level BPE tokenizer (GPT-2 byte mapping, merges learned here from our own short text),
// written as Hugging Face tokenizer.json + tokenizer_config.json + special_tokens_map.json. Special and filler
// tokens bring it to the model's vocab_size, as Llama-3's reserved tokens do.
import type { TokenizerPlan } from './presets'

const CORPUS = `Once upon a time there was a little model that lived in a folder of shards. Every morning it woke up,
read its header, and counted its tensors one by one. The weights were heavy, but the model was patient. It said to
itself: "If I keep my numbers close to where they were, nobody will notice that I have become smaller."
One day a careful engineer came by with a compressor. She measured the error of every value and wrote it down in a
report. "Your embeddings are fine," she said, "and your attention is fine, but your experts are many and they take
most of the space." The model thought about this for a while. Then it asked whether the experts could be stored
with a bound on the error, so that every value would come back within a small distance of the original.
They tried it together. The first shard shrank to half of its size, and the second shrank even more. The tokens
still came out in the same order, the stories still made sense, and the perplexity barely moved. The engineer smiled
and wrote the numbers into a table: the ratio, the bits per weight, the largest error and the time it took.
In the evening the model read the new shards back, checked every checksum and found them all correct. It was happy,
because it had learned that being small does not mean being wrong, as long as you know exactly how wrong you may be.
The children who used the model to write their stories never knew any of this. They typed "once upon a time" and the
model answered with dragons, rivers, friendly robots, a cat that could count to ten, and a boat that sailed to the
moon and back in 2024, 2025 and 2026. Numbers like 1, 2, 3, 10, 100 and 1000 appeared now and then.`

/** GPT-2's reversible byte → printable character mapping. */
export function byteToUnicode(): string[] {
  const keep: number[] = []
  for (let b = 33; b <= 126; b++) keep.push(b)
  for (let b = 161; b <= 172; b++) keep.push(b)
  for (let b = 174; b <= 255; b++) keep.push(b)
  const map = new Array<string>(256)
  let extra = 0
  for (let b = 0; b < 256; b++) {
    map[b] = keep.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++)
  }
  return map
}

/** GPT-2's pre-tokenizer split (contractions, letters, digits, punctuation, whitespace). */
export const PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu

function words(text: string, b2u: string[]): string[][] {
  const enc = new TextEncoder()
  return (text.match(PRETOKENIZE) ?? []).map((w) => Array.from(enc.encode(w), (b) => b2u[b]!))
}

/** Learns up to `maxMerges` merges from the built-in text; ties go to the lexicographically first pair. */
export function learnMerges(maxMerges: number, text = CORPUS): [string, string][] {
  const b2u = byteToUnicode()
  const counts = new Map<string, number>()
  for (const w of words(text, b2u)) {
    const k = w.join('\u0000')
    counts.set(k, (counts.get(k) ?? 0) + 1)
  }
  let vocab = [...counts].map(([k, n]) => ({ sym: k.split('\u0000'), n }))
  const merges: [string, string][] = []
  while (merges.length < maxMerges) {
    const pairs = new Map<string, number>()
    for (const { sym, n } of vocab) {
      for (let i = 0; i + 1 < sym.length; i++) {
        const k = `${sym[i]}\u0000${sym[i + 1]}`
        pairs.set(k, (pairs.get(k) ?? 0) + n)
      }
    }
    let best: string | null = null
    let bestN = 1
    for (const [k, n] of pairs) {
      if (n > bestN || (n === bestN && best !== null && k < best)) {
        best = k
        bestN = n
      }
    }
    if (best === null) break
    const [a, b] = best.split('\u0000') as [string, string]
    merges.push([a, b])
    vocab = vocab.map(({ sym, n }) => {
      const out: string[] = []
      for (let i = 0; i < sym.length; i++) {
        if (i + 1 < sym.length && sym[i] === a && sym[i + 1] === b) {
          out.push(a + b)
          i++
        } else out.push(sym[i]!)
      }
      return { sym: out, n }
    })
  }
  return merges
}

export interface TokenizerFiles {
  'tokenizer.json': string
  'tokenizer_config.json': string
  'special_tokens_map.json': string
}

export interface BuiltTokenizer {
  files: TokenizerFiles
  bosId: number
  eosId: number
  padId: number | null
  vocabSize: number
  merges: number
}

/** Builds the tokenizer files for a preset's plan (deterministic; no randomness involved). */
export function buildTokenizer(plan: TokenizerPlan): BuiltTokenizer {
  const b2u = byteToUnicode()
  const fixed = plan.leading.length + 256 + plan.trailing.length
  if (plan.vocabSize < fixed) {
    throw new Error(`vocab_size ${plan.vocabSize} is too small for a byte-level tokenizer (needs ${fixed})`)
  }
  const merges = learnMerges(Math.min(2000, plan.vocabSize - fixed))
  const vocab: Record<string, number> = {}
  let id = plan.leading.length
  // Base vocabulary in byte order, then one token per merge.
  for (let b = 0; b < 256; b++) vocab[b2u[b]!] = id++
  for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = id++
  const special: { id: number; content: string }[] = plan.leading.map((content, i) => ({ id: i, content }))
  for (const content of plan.trailing) special.push({ id: id++, content })
  let filler = 0
  while (id < plan.vocabSize) special.push({ id: id++, content: plan.filler.replace('{i}', String(filler++)) })
  const idOf = (t: string) => special.find((s) => s.content === t)?.id ?? -1
  const bosId = idOf(plan.bos)
  const eosId = idOf(plan.eos)
  const padId = plan.pad ? idOf(plan.pad) : null

  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: special.map((s) => ({
      id: s.id,
      content: s.content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: plan.addBos
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: plan.bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [
            { SpecialToken: { id: plan.bos, type_id: 0 } },
            { Sequence: { id: 'A', type_id: 0 } },
            { SpecialToken: { id: plan.bos, type_id: 1 } },
            { Sequence: { id: 'B', type_id: 1 } },
          ],
          special_tokens: { [plan.bos]: { id: plan.bos, ids: [bosId], tokens: [plan.bos] } },
        }
      : { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  }
  const specialsMap: Record<string, string> = { bos_token: plan.bos, eos_token: plan.eos }
  if (plan.pad) specialsMap.pad_token = plan.pad
  if (plan.unk) specialsMap.unk_token = plan.unk
  const config = {
    add_bos_token: plan.addBos,
    add_eos_token: false,
    ...specialsMap,
    clean_up_tokenization_spaces: false,
    model_max_length: 131072,
    tokenizer_class: 'PreTrainedTokenizerFast',
  }
  return {
    files: {
      'tokenizer.json': `${JSON.stringify(tokenizer, null, 2)}\n`,
      'tokenizer_config.json': `${JSON.stringify(config, null, 2)}\n`,
      'special_tokens_map.json': `${JSON.stringify(specialsMap, null, 2)}\n`,
    },
    bosId,
    eosId,
    padId,
    vocabSize: plan.vocabSize,
    merges: merges.length,
  }
}

/** Encodes text with a tokenizer.json of this kind (byte-level BPE, merges by rank); used to check the files. */
export function bpeEncode(tokenizerJson: string, text: string): number[] {
  const tok = JSON.parse(tokenizerJson) as { model: { vocab: Record<string, number>; merges: string[] } }
  const rank = new Map(tok.model.merges.map((m, i) => [m, i]))
  const b2u = byteToUnicode()
  const ids: number[] = []
  for (const w of words(text, b2u)) {
    let sym = w
    for (;;) {
      let best = -1
      let bestRank = Infinity
      for (let i = 0; i + 1 < sym.length; i++) {
        const r = rank.get(`${sym[i]} ${sym[i + 1]}`)
        if (r !== undefined && r < bestRank) {
          bestRank = r
          best = i
        }
      }
      if (best < 0) break
      sym = [...sym.slice(0, best), sym[best]! + sym[best + 1]!, ...sym.slice(best + 2)]
    }
    for (const s of sym) ids.push(tok.model.vocab[s]!)
  }
  return ids
}

/** Decodes ids of the byte-level vocabulary back to text. */
export function bpeDecode(tokenizerJson: string, ids: number[]): string {
  const tok = JSON.parse(tokenizerJson) as { model: { vocab: Record<string, number> } }
  const byId = new Map(Object.entries(tok.model.vocab).map(([k, v]) => [v, k]))
  const u2b = new Map(byteToUnicode().map((ch, b) => [ch, b]))
  const bytes: number[] = []
  for (const id of ids) for (const ch of byId.get(id) ?? '') bytes.push(u2b.get(ch)!)
  return new TextDecoder().decode(new Uint8Array(bytes))
}
