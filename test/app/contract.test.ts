// The generated plumbing: every contract method is reachable through createApiClient/serveApi, payloads are
// validated before the service sees them, errors keep their code/file/tensor, and event streams unsubscribe.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  API_METHOD_NAMES,
  type ApiService,
  apiEvents,
  apiMethods,
  type JobProgress,
  type ShardPressApi,
} from '../../src-main/core/api/contract'
import { createApiClient, memoryTransportPair, serveApi } from '../../src-main/core/api/proxy'
import { ApiError } from '../../src-main/core/api/schema'

/** A service that records calls and answers with the request it got. */
function recordingService() {
  const calls: { method: string; req: unknown }[] = []
  const listeners = new Map<string, Set<(e: unknown) => void>>()
  const service = new Proxy({} as Record<string, unknown>, {
    get(_t, key: string) {
      if (key.startsWith('on')) {
        return (l: (e: unknown) => void) => {
          const set = listeners.get(key) ?? new Set()
          set.add(l)
          listeners.set(key, set)
          return () => set.delete(l)
        }
      }
      return async (req: unknown) => {
        calls.push({ method: key, req })
        if (key === 'getTensorDetail') {
          throw new ApiError('NO_SUCH_TENSOR', 'The model has no tensor named x.', { file: '/m', tensor: 'x' })
        }
        return { echo: req ?? null }
      }
    },
  }) as unknown as ApiService
  const emit = (event: string, payload: unknown) => {
    for (const l of listeners.get(event) ?? []) l(payload)
  }
  return { service, calls, emit, listeners }
}

function connect() {
  const rec = recordingService()
  const [clientSide, serverSide] = memoryTransportPair()
  const stop = serveApi(rec.service, serverSide)
  const api = createApiClient(clientSide)
  return { ...rec, api, stop }
}

const tick = () => new Promise((r) => setTimeout(r, 5))

test('the client has exactly one function per contract method and event', () => {
  const { api } = connect()
  const keys = Object.keys(api).sort()
  assert.deepEqual(keys, [...API_METHOD_NAMES, ...apiEvents].sort())
  for (const k of keys) assert.equal(typeof (api as unknown as Record<string, unknown>)[k], 'function')
  // Every method of the interface has a validator (the object literal is typed against the interface).
  assert.ok(API_METHOD_NAMES.includes('estimatePlan') && API_METHOD_NAMES.includes('startJob'))
  assert.equal(API_METHOD_NAMES.length, Object.keys(apiMethods).length)
})

test('a valid call reaches the service with the validated request and returns its value', async () => {
  const { api, calls } = connect()
  const r = await api.openModel({ path: '/models/a' })
  assert.deepEqual(r, { echo: { path: '/models/a' } })
  assert.deepEqual(calls, [{ method: 'openModel', req: { path: '/models/a' } }])
  const plan = { mode: 'rel' as const, bound: 1e-3, groups: { mlp: { mode: 'abs' as const, bound: 0.01 } } }
  await api.estimatePlan({ path: '/m', plan })
  assert.deepEqual(calls[1], { method: 'estimatePlan', req: { path: '/m', plan } })
})

test('invalid payloads are refused with a sentence naming the field, and never reach the service', async () => {
  const { api, calls } = connect()
  const bad: [keyof ShardPressApi, unknown, RegExp][] = [
    ['openModel', { path: 42 }, /openModel\.request\.path must be a string, got number/],
    ['openModel', { path: '' }, /path must be a non-empty string/],
    ['openModel', { path: '/a', extra: 1 }, /openModel\.request\.extra is not a known field/],
    ['estimatePlan', { path: '/m', plan: { mode: 'lossy', bound: 1, groups: {} } }, /plan\.mode must be one of/],
    [
      'estimatePlan',
      { path: '/m', plan: { mode: 'abs', bound: Number.NaN, groups: {} } },
      /plan\.bound must be a finite/,
    ],
    ['startJob', { kind: 'format-disk', input: '/m' }, /kind must be one of compress, decompress, verify, sweep/],
    ['startGeneration', { model: '/m', variants: 'original', prompt: 'x' }, /variants must be an array/],
    ['generateModel', { preset: 'llama', scale: 5 }, /scale must be ≤ 1/],
    ['listRecent', { anything: true }, /listRecent\.request must be empty/],
  ]
  for (const [method, req, message] of bad) {
    const fn = api[method] as (r: unknown) => Promise<unknown>
    await assert.rejects(fn(req), (err: ApiError) => {
      assert.equal(err.code, 'INVALID_PAYLOAD', `${method}: ${err.message}`)
      assert.match(err.message, message)
      return true
    })
  }
  assert.equal(calls.length, 0)
})

test('raw messages with unknown methods or malformed shapes get an error or are ignored', async () => {
  const rec = recordingService()
  const [clientSide, serverSide] = memoryTransportPair()
  serveApi(rec.service, serverSide)
  const replies: unknown[] = []
  clientSide.onMessage((m) => replies.push(m))
  clientSide.send({ t: 'call', id: 1, method: 'constructor' })
  clientSide.send({ t: 'call', id: 2, method: '__proto__' })
  for (const junk of [
    null,
    'x',
    { t: 'call' },
    { t: 'call', id: -1, method: 'listRecent' },
    { t: 'sub', id: 3, event: 'onNothing' },
  ])
    clientSide.send(junk as never)
  await tick()
  assert.deepEqual(
    replies.map((r) => (r as { error: { code: string } }).error.code),
    ['UNKNOWN_METHOD', 'UNKNOWN_METHOD'],
  )
  assert.equal(rec.calls.length, 0)
})

test('service errors keep their code, file and tensor across the boundary', async () => {
  const { api } = connect()
  await assert.rejects(api.getTensorDetail({ path: '/m', name: 'x' }), (err: ApiError) => {
    assert.equal(err.code, 'NO_SUCH_TENSOR')
    assert.equal(err.file, '/m')
    assert.equal(err.tensor, 'x')
    assert.equal(err.message, 'The model has no tensor named x.')
    return true
  })
})

test('event streams deliver to subscribers until they unsubscribe', async () => {
  const { api, emit, listeners } = connect()
  const got: number[] = []
  const off = api.onJobProgress((p: JobProgress) => got.push(p.bytesDone))
  await tick()
  emit('onJobProgress', { bytesDone: 1 })
  emit('onJobProgress', { bytesDone: 2 })
  await tick()
  off()
  await tick()
  emit('onJobProgress', { bytesDone: 3 })
  await tick()
  assert.deepEqual(got, [1, 2])
  assert.equal(listeners.get('onJobProgress')?.size, 0)
})

test('stopping the server drops its subscriptions', async () => {
  const { api, listeners, stop } = connect()
  api.onTokens(() => {})
  api.onInventoryProgress(() => {})
  await tick()
  assert.equal(listeners.get('onTokens')?.size, 1)
  stop()
  assert.equal(listeners.get('onTokens')?.size, 0)
  assert.equal(listeners.get('onInventoryProgress')?.size, 0)
})

test('a reloaded page reusing subscription ids replaces the old subscriptions instead of losing events', async () => {
  const rec = recordingService()
  const [clientSide, serverSide] = memoryTransportPair()
  serveApi(rec.service, serverSide)
  const first = createApiClient(clientSide)
  first.onJobProgress(() => {})
  await tick()
  // A second client on the same transport starts its ids at 1 again, like a page after reload.
  const second = createApiClient(clientSide)
  const got: unknown[] = []
  second.onJobProgress((p) => got.push(p))
  await tick()
  assert.equal(rec.listeners.get('onJobProgress')?.size, 1)
  rec.emit('onJobProgress', { bytesDone: 7 })
  await tick()
  assert.deepEqual(got, [{ bytesDone: 7 }])
})
