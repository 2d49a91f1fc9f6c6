// The shape of a `shardpress` command: one file per command under commands/, registered in main.ts's table.
import type { ParseArgsConfig } from 'node:util'
import type { ProgressListener } from '../core/util/progress'

export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>

export interface CommandContext {
  /** Parsed options (node:util parseArgs `values`). */
  values: OptionValues
  positionals: string[]
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  /** A progress listener drawing a bar on a TTY stderr, a no-op otherwise. */
  progress: ProgressListener
  /** Aborted on Ctrl-C. */
  signal: AbortSignal
}

export interface Command {
  name: string
  /** One line for the command list. */
  summary: string
  /** Synopsis without the program name, e.g. 'inventory <path> [--csv FILE]'. */
  usage: string
  /** Further help lines (options, examples). */
  help?: string[]
  options: NonNullable<ParseArgsConfig['options']>
  positionals: { min: number; max: number }
  /** Returns the exit code (default 0). */
  run(ctx: CommandContext): Promise<number | undefined>
}

/** Wrong use of the command line: reported with the command's usage line, exit code 2. */
export class UsageError extends Error {
  readonly code = 'USAGE'
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export function stringOption(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name]
  return typeof v === 'string' ? v : undefined
}

export function numberOption(ctx: CommandContext, name: string, check?: (n: number) => boolean): number | undefined {
  const s = stringOption(ctx, name)
  if (s === undefined) return undefined
  const n = Number(s)
  if (s.trim() === '' || !Number.isFinite(n) || (check && !check(n)))
    throw new UsageError(`--${name} ${s} is not valid.`)
  return n
}

export function flag(ctx: CommandContext, name: string): boolean {
  return ctx.values[name] === true
}
