// The browser bridge: serves the built renderer and the service contract over WebSocket on loopback only, guarded
// by a random token, so the same UI runs in an ordinary browser (Playwright tests, shards on another machine).
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createReadStream, existsSync, statSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize, sep } from 'node:path'
import { WebSocketServer } from 'ws'
import type { ApiService } from './contract'
import { serveApi, type Transport } from './proxy'

export interface BridgeOptions {
  service: ApiService
  /** Folder with the built renderer (index.html + assets). */
  rendererDir: string
  /** 0 picks a free port. */
  port?: number
  /** Fixed token for tests; a random one otherwise. */
  token?: string
}

export interface Bridge {
  url: string
  port: number
  token: string
  close(): Promise<void>
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
}

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
}

function sameToken(given: string | null, token: string): boolean {
  if (!given) return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** Only our own page may talk to us: the Host header blocks DNS rebinding, Origin blocks other sites' pages. */
function trustedRequest(req: IncomingMessage, port: number): boolean {
  const hosts = [`127.0.0.1:${port}`, `localhost:${port}`]
  if (!hosts.includes(req.headers.host ?? '')) return false
  const origin = req.headers.origin
  return origin === undefined || hosts.some((h) => origin === `http://${h}`)
}

export async function startBridge(opts: BridgeOptions): Promise<Bridge> {
  const token = opts.token ?? randomBytes(24).toString('base64url')
  const root = normalize(opts.rendererDir)
  if (!existsSync(join(root, 'index.html'))) {
    throw Object.assign(new Error(`The built renderer is missing in ${root}: run \`npx electron-vite build\` first.`), {
      code: 'RENDERER_MISSING',
      file: root,
    })
  }
  let port = 0
  const server: Server = createServer((req, res) => {
    if (!trustedRequest(req, port) || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(403, SECURITY_HEADERS).end()
      return
    }
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`)
    let rel = decodeURIComponent(url.pathname)
    if (rel === '/' || rel === '') rel = '/index.html'
    const file = normalize(join(root, rel))
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, SECURITY_HEADERS).end()
      return
    }
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Cache-Control': 'no-store',
    })
    if (req.method === 'HEAD') res.end()
    else createReadStream(file).pipe(res)
  })
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 })
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`)
    if (url.pathname !== '/api' || !trustedRequest(req, port) || !sameToken(url.searchParams.get('token'), token)) {
      socket.write('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n')
      socket.destroy()
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const transport: Transport = {
        send: (message) => {
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message))
        },
        onMessage: (listener) => {
          const handler = (data: Buffer, isBinary: boolean) => {
            if (isBinary) return
            let parsed: unknown
            try {
              parsed = JSON.parse(data.toString('utf8'))
            } catch {
              return
            }
            listener(parsed)
          }
          ws.on('message', handler)
          return () => ws.off('message', handler)
        },
      }
      const stop = serveApi(opts.service, transport)
      ws.on('close', stop)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve())
  })
  port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    close: async () => {
      for (const client of wss.clients) client.terminate()
      wss.close()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
