// A local HTTP server that answers like the Hugging Face Hub for the routes @huggingface/hub calls when listing
// and downloading a model: GET /api/models/<repo>/tree/<rev> and GET /<repo>/resolve/<rev>/<path> (with Range).
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'

export interface FakeFile {
  path: string
  data: Uint8Array
  /** Listed with an `lfs` block (size and SHA-256), as the Hub does for weights. */
  lfs: boolean
}

export interface FakeHub {
  url: string
  requests: { url: string; range?: string }[]
  /** Paths whose next body is cut off after this many bytes (then the socket is destroyed). */
  cutOnce: Map<string, number>
  /** Paths served with one byte flipped while listed here. */
  corrupt: Set<string>
  close(): Promise<void>
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** The files of a local folder (top level), weights as LFS files. */
export function folderFiles(dir: string): FakeFile[] {
  return readdirSync(dir)
    .filter((n) => statSync(join(dir, n)).isFile())
    .map((n) => ({ path: n, data: new Uint8Array(readFileSync(join(dir, n))), lfs: n.endsWith('.safetensors') }))
}

export async function startFakeHub(repos: Record<string, FakeFile[]>): Promise<FakeHub> {
  const requests: FakeHub['requests'] = []
  const cutOnce = new Map<string, number>()
  const corrupt = new Set<string>()
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x')
    requests.push({ url: url.pathname, ...(req.headers.range ? { range: req.headers.range } : {}) })
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(url.pathname)
    if (m) {
      const list = repos[m[1]!]
      if (!list) {
        res.writeHead(404, { 'content-type': 'application/json', 'x-error-code': 'RepoNotFound' })
        res.end(JSON.stringify({ error: 'Repository not found' }))
        return
      }
      const recursive = url.searchParams.get('recursive') === 'true'
      const items: Record<string, unknown>[] = list
        .filter((f) => recursive || !f.path.includes('/'))
        .map((f) => ({
          type: 'file',
          oid: sha(f.data).slice(0, 40),
          size: f.lfs ? 134 : f.data.length,
          path: f.path,
          ...(f.lfs ? { lfs: { oid: sha(f.data), size: f.data.length, pointerSize: 134 } } : {}),
        }))
      const dirs = new Set(list.filter((f) => f.path.includes('/')).map((f) => f.path.split('/')[0]!))
      if (!recursive) for (const d of dirs) items.push({ type: 'directory', oid: '0'.repeat(40), size: 0, path: d })
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(items))
      return
    }
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname)
    const f = m ? repos[m[1]!]?.find((x) => x.path === decodeURIComponent(m![3]!)) : undefined
    if (!f) {
      res.writeHead(404, { 'x-error-code': 'EntryNotFound', 'content-type': 'application/json' })
      res.end('{"error":"Entry not found"}')
      return
    }
    let data = f.data
    if (corrupt.has(f.path)) {
      data = data.slice()
      data[data.length >> 1]! ^= 0xff
    }
    const etag = `"${sha(f.data)}"`
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    const cut = range?.[1] === '0' && range[2] === '0' ? undefined : cutOnce.get(f.path)
    if (cut !== undefined) {
      cutOnce.delete(f.path)
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(data.length), etag })
      res.write(data.subarray(0, cut), () => res.destroy())
      return
    }
    if (range) {
      const start = Number(range[1])
      const end = range[2] ? Math.min(Number(range[2]), data.length - 1) : data.length - 1
      res.writeHead(206, {
        'content-type': 'application/octet-stream',
        'content-range': `bytes ${start}-${end}/${data.length}`,
        'content-length': String(end - start + 1),
        etag,
        'accept-ranges': 'bytes',
      })
      res.end(data.subarray(start, end + 1))
      return
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(data.length), etag })
    res.end(data)
  }
  const server = createServer(handle)
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    cutOnce,
    corrupt,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((ok) => server.close(() => ok()))
    },
  }
}
