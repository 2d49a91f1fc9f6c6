// `shardpress serve [--port N] [--work-dir DIR]`: the browser bridge. Serves the built renderer and the service
// contract over WebSocket on 127.0.0.1 only, with a random token, and prints the URL to open on stdout.
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { startBridge } from '../../core/api/bridge'
import { createShardPressService, defaultWorkDir } from '../../core/api/service'
import { type Command, type CommandContext, numberOption, stringOption } from '../command'

const repoRoot = resolve(import.meta.dirname, '..', '..', '..')
export const RENDERER_DIR = resolve(repoRoot, 'out', 'renderer')

/** Builds the renderer with electron-vite when out/renderer is missing (a fresh clone). */
export async function ensureRenderer(log: (s: string) => void = () => {}): Promise<string> {
  if (existsSync(resolve(RENDERER_DIR, 'index.html'))) return RENDERER_DIR
  log('The renderer is not built yet; building it with electron-vite (a few seconds)…')
  const { build } = await import('electron-vite')
  await build({ root: repoRoot, configFile: resolve(repoRoot, 'electron.vite.config.ts'), logLevel: 'warn' })
  if (!existsSync(resolve(RENDERER_DIR, 'index.html'))) {
    throw new Error(`The renderer build did not produce ${RENDERER_DIR}; run \`npx electron-vite build\`.`)
  }
  return RENDERER_DIR
}

export const serve: Command = {
  name: 'serve',
  summary: 'serve the app to a browser on this machine (loopback only, token-guarded)',
  usage: 'serve [--port N] [--work-dir DIR] [--workers N]',
  help: [
    'Prints the http://127.0.0.1:PORT/?token=… address to open on stdout; Ctrl+C stops it.',
    'Builds the renderer (out/renderer) first if it is missing.',
    '',
    '  --port N        port to listen on (default: a free one)',
    '  --work-dir DIR  where generated models, compressed runs and caches go (default: ~/ShardPress)',
    '  --workers N     worker threads for inventory and compression (default: one per core)',
  ],
  options: {
    port: { type: 'string' },
    'work-dir': { type: 'string' },
    workers: { type: 'string' },
  },
  positionals: { min: 0, max: 0 },
  async run(ctx: CommandContext) {
    const port = numberOption(ctx, 'port', (x) => Number.isInteger(x) && x >= 0 && x <= 65535) ?? 0
    const workers = numberOption(ctx, 'workers', (x) => Number.isInteger(x) && x >= 0)
    const rendererDir = await ensureRenderer((line) => ctx.stderr.write(`${line}\n`))
    const workDir = resolve(stringOption(ctx, 'work-dir') ?? defaultWorkDir())
    const service = createShardPressService({ host: 'bridge', workDir, ...(workers !== undefined ? { workers } : {}) })
    const bridge = await startBridge({ service, rendererDir, port })
    ctx.stdout.write(`${bridge.url}\n`)
    ctx.stderr.write(`ShardPress is serving on 127.0.0.1:${bridge.port} (work folder ${workDir}). Ctrl+C stops it.\n`)
    await new Promise<void>((done) => {
      const stop = () => {
        process.off('SIGTERM', stop)
        ctx.signal.removeEventListener('abort', stop)
        void bridge.close().then(done)
      }
      process.on('SIGTERM', stop)
      ctx.signal.addEventListener('abort', stop)
    })
    return 0
  },
}
