// `shardpress`: the command-line face of core/. Each command is one file in commands/ exporting a `Command`;
// adding one is a line in COMMANDS below. Commands load lazily, so `inventory` does not pay for node-llama-cpp.
// Errors reach the user as one line, never a stack trace.
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { type Command, type CommandContext, UsageError } from './command'
import { progressBar } from './progress-bar'

/** A registered command: its name and one-line summary for the list, and how to load it. */
export interface CommandEntry {
  name: string
  summary: string
  load: () => Promise<Command>
}

export const COMMANDS: CommandEntry[] = [
  {
    name: 'inventory',
    summary: 'List every tensor of a model with its role and statistics (table, CSV, JSON).',
    load: async () => (await import('./commands/inventory')).inventory,
  },
  {
    name: 'synth',
    summary: 'Generate a synthetic model (llama, gemma3, deepseek-v3) with realistic weights.',
    load: async () => (await import('./commands/synth')).synth,
  },
  {
    name: 'compress',
    summary: 'Compress a model folder into one container per shard, with a run record.',
    load: async () => (await import('./commands/compress')).compress,
  },
  {
    name: 'decompress',
    summary: 'Reconstruct the safetensors shards from a compressed model folder.',
    load: async () => (await import('./commands/decompress')).decompress,
  },
  {
    name: 'verify',
    summary: 'Check a compressed model: structure, checksums, decodability, error bounds.',
    load: async () => (await import('./commands/verify')).verify,
  },
  {
    name: 'sweep',
    summary: 'Compress a model at several bounds as one job and print the results table.',
    load: async () => (await import('./commands/sweep')).sweep,
  },
  {
    name: 'gguf',
    summary: 'Convert a Hugging Face model folder to GGUF.',
    load: async () => (await import('./commands/gguf')).gguf,
  },
  {
    name: 'eval',
    summary: 'Perplexity, KL divergence, top-1 agreement and generations of models side by side.',
    load: async () => (await import('./commands/eval')).evalCommand,
  },
  {
    name: 'rd',
    summary: 'Rate–distortion: lossy runs against Q8_0 and Q4_0, bits per weight vs KL divergence and perplexity.',
    load: async () => (await import('./commands/rd')).rd,
  },
  {
    name: 'tune',
    summary: 'Find the smallest compression plan that meets a fidelity target (KL divergence or perplexity ratio).',
    load: async () => (await import('./commands/tune')).tune,
  },
  {
    name: 'serve',
    summary: 'Serve the app to a browser on this machine (loopback only, token-guarded).',
    load: async () => (await import('./commands/serve')).serve,
  },
]

const PROGRAM = 'shardpress'

function mainHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length))
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    `Run '${PROGRAM} <command> --help' for a command's options.`,
    '',
  ].join('\n')
}

function commandHelp(c: Command): string {
  return [`Usage: ${PROGRAM} ${c.usage}`, '', c.summary, ...(c.help?.length ? ['', ...c.help] : []), ''].join('\n')
}

/** The one line a failure prints: the message, plus file/tensor/code when the message does not already say them. */
export function errorLine(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown; file?: unknown; tensor?: unknown; path?: unknown }
  let msg = typeof e?.message === 'string' && e.message ? e.message : String(err)
  msg = msg.replace(/\s*\n\s*/g, ' ').trim()
  const extra: string[] = []
  const file = typeof e?.file === 'string' ? e.file : typeof e?.path === 'string' ? e.path : undefined
  if (file && !msg.includes(file)) extra.push(`file ${file}`)
  if (typeof e?.tensor === 'string' && !msg.includes(e.tensor)) extra.push(`tensor ${JSON.stringify(e.tensor)}`)
  const code = typeof e?.code === 'string' && e.code !== 'USAGE' ? ` [${e.code}]` : ''
  return `${PROGRAM}: ${msg}${extra.length ? ` (${extra.join(', ')})` : ''}${code}`
}

export interface RunIo {
  stdout?: NodeJS.WriteStream
  stderr?: NodeJS.WriteStream
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function runCli(argv: string[], io: RunIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout
  const stderr = io.stderr ?? process.stderr
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const target = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined
    if (target) return runCli([target.name, '--help'], io)
    stdout.write(mainHelp())
    return name === undefined ? 2 : 0
  }
  const entry = COMMANDS.find((c) => c.name === name)
  if (!entry) {
    stderr.write(`${PROGRAM}: unknown command '${name}'. Commands: ${COMMANDS.map((c) => c.name).join(', ')}.\n`)
    return 2
  }
  let cmd: Command
  try {
    cmd = await entry.load()
  } catch (err) {
    stderr.write(`${errorLine(err)}\n`)
    return 1
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    stdout.write(commandHelp(cmd))
    return 0
  }
  const controller = new AbortController()
  const onSigint = () => controller.abort()
  process.once('SIGINT', onSigint)
  const bar = progressBar(stderr)
  try {
    let parsed: ReturnType<typeof parseArgs>
    try {
      parsed = parseArgs({ args: rest, options: cmd.options, allowPositionals: true, strict: true })
    } catch (err) {
      throw new UsageError((err as Error).message)
    }
    const { values, positionals } = parsed
    if (positionals.length < cmd.positionals.min || positionals.length > cmd.positionals.max) {
      throw new UsageError(
        positionals.length < cmd.positionals.min
          ? 'missing argument.'
          : `unexpected argument '${positionals[cmd.positionals.max]}'.`,
      )
    }
    const ctx: CommandContext = {
      values: values as CommandContext['values'],
      positionals,
      stdout,
      stderr,
      progress: bar.listener,
      signal: controller.signal,
    }
    const code = (await cmd.run(ctx)) ?? 0
    bar.done()
    return code
  } catch (err) {
    bar.done()
    if (err instanceof UsageError) {
      stderr.write(`${PROGRAM} ${cmd.name}: ${err.message} Usage: ${PROGRAM} ${cmd.usage}\n`)
      return 2
    }
    if (controller.signal.aborted) {
      stderr.write(`${PROGRAM}: cancelled.\n`)
      return 130
    }
    stderr.write(`${errorLine(err)}\n`)
    return 1
  } finally {
    process.off('SIGINT', onSigint)
  }
}

function isEntry(): boolean {
  const argv1 = process.argv[1]
  if (!argv1) return false
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

/** Entry point for bin/shardpress.mjs and `npm run cli`. */
export async function main(argv = process.argv.slice(2)): Promise<void> {
  // Last line of defence: whatever escapes still ends as one line and a non-zero exit.
  const fatal = (err: unknown) => {
    process.stderr.write(`${errorLine(err)}\n`)
    process.exit(1)
  }
  process.on('uncaughtException', fatal)
  process.on('unhandledRejection', fatal)
  // Closed pipes (e.g. `| head`) are not an error worth a message.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0)
    fatal(err)
  })
  const code = await runCli(argv)
  process.exitCode = code
}

if (isEntry()) await main()
