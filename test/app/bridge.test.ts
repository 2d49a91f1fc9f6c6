// The browser bridge: loopback only, the token guards the API, foreign hosts and origins are refused, files
// outside the renderer folder are never served; and the serve command prints its URL and stops cleanly.
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { WebSocket } from 'ws'
import type { CommandContext } from '../../src-main/cli/command'
import { serve } from '../../src-main/cli/commands/serve'
import { type Bridge, startBridge } from '../../src-main/core/api/bridge'
import type { AppInfo } from '../../src-main/core/api/contract'
import { createApiClient, type Transport } from '../../src-main/core/api/proxy'
import { createShardPressService } from '../../src-main/core/api/service'
import { tempDir } from '../helpers/paths'

let bridge: Bridge
let work: string

before(async () => {
  work = tempDir('shardpress-bridge-')
  // The renderer folder sits inside the work folder, next to a file a traversal would reach.
  const renderer = join(work, 'renderer')
  mkdirSync(renderer)
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>ShardPress test page</title>')
  writeFileSync(join(work, 'secret.txt'), 'not for the browser')
  const service = createShardPressService({ host: 'bridge', workDir: work })
  bridge = await startBridge({ service, rendererDir: renderer })
})

after(async () => {
  await bridge.close()
})

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: bridge.port, path, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => {
        body += c
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

function wsTransport(ws: WebSocket): Transport {
  return {
    send: (m) => ws.send(JSON.stringify(m)),
    onMessage: (l) => {
      const h = (d: Buffer) => l(JSON.parse(d.toString()))
      ws.on('message', h)
      return () => ws.off('message', h)
    },
  }
}

function openSocket(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
    ws.once('error', reject)
  })
}

test('it listens on 127.0.0.1 and prints a URL with a long random token', () => {
  assert.match(bridge.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{32}$/)
  assert.ok(bridge.token.length >= 32)
})

test('the renderer is served; other hosts and paths outside it are refused', async () => {
  const page = await get('/')
  assert.equal(page.status, 200)
  assert.match(page.body, /ShardPress test page/)
  assert.equal((await get('/', { Host: `evil.example:${bridge.port}` })).status, 403)
  assert.equal((await get('/%2e%2e/secret.txt')).status, 404)
  assert.equal((await get('/..%2fsecret.txt')).status, 404)
  assert.equal((await get('/nothing.js')).status, 404)
})

test('the API needs the right token and our own origin', async () => {
  const base = `ws://127.0.0.1:${bridge.port}/api`
  await assert.rejects(openSocket(base), /HTTP 403/)
  await assert.rejects(openSocket(`${base}?token=wrong`), /HTTP 403/)
  await assert.rejects(openSocket(`${base}?token=${bridge.token}`, { Origin: 'http://evil.example' }), /HTTP 403/)
  const ws = await openSocket(`${base}?token=${bridge.token}`, { Origin: `http://127.0.0.1:${bridge.port}` })
  const api = createApiClient(wsTransport(ws))
  const info: AppInfo = await api.getAppInfo()
  assert.equal(info.host, 'bridge')
  assert.equal(info.workDir, work)
  await assert.rejects(api.openModel({ path: join(work, 'no-such-model') }), (e: Error & { code?: string }) => {
    assert.notEqual(e.code, 'INTERNAL')
    return true
  })
  ws.close()
})

test('`shardpress serve` prints the bridge URL on stdout and stops when cancelled', async () => {
  let out = ''
  let err = ''
  const controller = new AbortController()
  const ctx: CommandContext = {
    values: { port: '0', 'work-dir': tempDir('shardpress-serve-') },
    positionals: [],
    stdout: {
      write: (s: string) => {
        out += s
        return true
      },
    } as unknown as NodeJS.WritableStream,
    stderr: {
      write: (s: string) => {
        err += s
        return true
      },
    } as unknown as NodeJS.WritableStream,
    progress: () => {},
    signal: controller.signal,
  }
  const running = serve.run(ctx)
  for (let i = 0; i < 600 && !out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 50))
  const url = out.trim()
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=\S+$/)
  assert.match(err, /serving on 127\.0\.0\.1/)
  const html = await fetch(url.replace(/\?.*/, ''))
  assert.equal(html.status, 200)
  assert.match(await html.text(), /<div id="root">/)
  controller.abort()
  assert.equal(await running, 0)
})
