// node-llama-cpp on the CPU with an explicit thread count: one Llama per session, models and contexts created
// per use and always disposed (an undisposed Llama can abort the process when a worker ends).
import {
  getLlama,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  LlamaLogLevel,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp'

export interface SessionOptions {
  /** Threads per context; 1 or 2 on a shared 2-core machine (node-llama-cpp's default oversubscribes). */
  threads?: number
}

export class EvalSession {
  private constructor(
    readonly llama: Llama,
    readonly threads: number,
  ) {}

  static async open(opts: SessionOptions = {}): Promise<EvalSession> {
    const llama = await getLlama({
      gpu: false,
      build: 'never',
      logLevel: LlamaLogLevel.error,
      maxThreads: opts.threads ?? 1,
    })
    return new EvalSession(llama, opts.threads ?? 1)
  }

  async load(modelPath: string): Promise<LoadedModel> {
    const model = await this.llama.loadModel({ modelPath, gpuLayers: 0 })
    return new LoadedModel(this, model, modelPath)
  }

  async dispose(): Promise<void> {
    await this.llama.dispose()
  }
}

/** A loaded GGUF with one reusable single-sequence context at a time. */
export class LoadedModel {
  private context: LlamaContext | null = null
  private sequence: LlamaContextSequence | null = null
  private contextSize = 0

  constructor(
    readonly session: EvalSession,
    readonly model: LlamaModel,
    readonly path: string,
  ) {}

  /** Entries of the next-token distribution: the vocabulary, or token_embd's rows when the list is not kept. */
  get vocabSize(): number {
    const v = this.model.fileInfo.metadata.tokenizer?.ggml?.tokens
    if (Array.isArray(v)) return v.length
    const embd = this.model.fileInfo.tensorInfo?.find((t) => t.name === 'token_embd.weight')
    return Number(embd?.dimensions[1] ?? 0)
  }

  /** Tokens of `text` as llama.cpp's tools see them: BOS first when the model asks for it, specials not parsed. */
  tokenize(text: string, withBos = true): Token[] {
    const toks = this.model.tokenize(text, false)
    const bos = this.model.tokens.bos
    if (withBos && bos !== null && this.model.tokens.shouldPrependBosToken) return [bos, ...toks]
    return toks
  }

  get bos(): Token | null {
    return this.model.tokens.shouldPrependBosToken ? this.model.tokens.bos : null
  }

  detokenize(tokens: readonly Token[]): string {
    return this.model.detokenize(tokens)
  }

  isEog(token: Token): boolean {
    return this.model.isEogToken(token)
  }

  /** A cleared sequence of a context holding at least `size` tokens. */
  async sequenceFor(size: number): Promise<LlamaContextSequence> {
    if (!this.context || this.contextSize < size) {
      await this.disposeContext()
      this.context = await this.model.createContext({
        contextSize: size,
        batchSize: size,
        sequences: 1,
        threads: this.session.threads,
      })
      this.contextSize = size
      this.sequence = this.context.getSequence()
    } else {
      await this.sequence!.clearHistory()
    }
    return this.sequence!
  }

  private async disposeContext(): Promise<void> {
    this.sequence?.dispose()
    this.sequence = null
    if (this.context) await this.context.dispose()
    this.context = null
  }

  async dispose(): Promise<void> {
    await this.disposeContext()
    await this.model.dispose()
  }
}
