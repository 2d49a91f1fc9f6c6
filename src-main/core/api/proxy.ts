// Generic plumbing derived from the contract's method list (VS Code's ProxyChannel idea): one client proxy and one
// server loop that work over any message transport (Electron IPC, WebSocket, or an in-process pair in tests).
import {
  API_METHOD_NAMES,
  type ApiEvent,
  type ApiMethod,
  type ApiService,
  apiEvents,
  apiMethods,
  isApiEvent,
  isApiMethod,
  type ShardPressApi,
  type Unsubscribe,
} from './contract'
import { ApiError } from './schema'

export interface WireError {
  code: string
  message: string
  file?: string
  tensor?: string
}

export type WireMessage =
  | { t: 'call'; id: number; method: string; req?: unknown }
  | { t: 'result'; id: number; ok: true; value: unknown }
  | { t: 'result'; id: number; ok: false; error: WireError }
  | { t: 'sub'; id: number; event: string }
  | { t: 'unsub'; id: number }
  | { t: 'event'; id: number; payload: unknown }

/** Anything that carries structured messages both ways: IPC port, WebSocket, in-memory pair. */
export interface Transport {
  send(message: WireMessage): void
  onMessage(listener: (message: unknown) => void): Unsubscribe
}

function toWireError(err: unknown): WireError {
  if (err instanceof Error) {
    const e = err as Error & { code?: unknown; file?: unknown; tensor?: unknown }
    const out: WireError = { code: typeof e.code === 'string' ? e.code : 'INTERNAL', message: e.message }
    if (typeof e.file === 'string') out.file = e.file
    if (typeof e.tensor === 'string') out.tensor = e.tensor
    return out
  }
  return { code: 'INTERNAL', message: String(err) }
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/**
 * Serves a service over a transport: validates every incoming message and request against the contract, calls
 * the method, and forwards event streams the client subscribed to. Returns a function that stops serving.
 */
export function serveApi(service: ApiService, transport: Transport): () => void {
  const subs = new Map<number, Unsubscribe>()
  const reply = (message: WireMessage) => {
    try {
      transport.send(message)
    } catch {
      // The peer went away; nothing to tell it.
    }
  }
  const stop = transport.onMessage((raw) => {
    if (typeof raw !== 'object' || raw === null) return
    const m = raw as Record<string, unknown>
    if (!isInt(m.id)) return
    const id = m.id
    if (m.t === 'call') {
      if (!isApiMethod(m.method)) {
        reply({
          t: 'result',
          id,
          ok: false,
          error: { code: 'UNKNOWN_METHOD', message: `No method ${String(m.method)}.` },
        })
        return
      }
      const method = m.method
      void (async () => {
        try {
          const req = apiMethods[method](m.req, `${method}.request`)
          const fn = service[method] as (r: unknown) => Promise<unknown>
          const value = await fn.call(service, req)
          reply({ t: 'result', id, ok: true, value: value ?? null })
        } catch (err) {
          reply({ t: 'result', id, ok: false, error: toWireError(err) })
        }
      })()
    } else if (m.t === 'sub') {
      if (!isApiEvent(m.event)) return
      // A reloaded page numbers its requests from 1 again: a reused id replaces the old subscription.
      subs.get(id)?.()
      const event = m.event
      const subscribe = service[event] as (l: (payload: unknown) => void) => Unsubscribe
      subs.set(
        id,
        subscribe.call(service, (payload) => reply({ t: 'event', id, payload })),
      )
    } else if (m.t === 'unsub') {
      subs.get(id)?.()
      subs.delete(id)
    }
  })
  return () => {
    stop()
    for (const off of subs.values()) off()
    subs.clear()
  }
}

/** Builds a ShardPressApi whose methods and event streams go over the transport. */
export function createApiClient(transport: Transport): ShardPressApi {
  let nextId = 1
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  const listeners = new Map<number, (payload: unknown) => void>()
  transport.onMessage((raw) => {
    if (typeof raw !== 'object' || raw === null) return
    const m = raw as Record<string, unknown>
    if (!isInt(m.id)) return
    if (m.t === 'result') {
      const p = pending.get(m.id)
      if (!p) return
      pending.delete(m.id)
      if (m.ok === true) p.resolve(m.value)
      else {
        const e = (m.error ?? {}) as WireError
        p.reject(new ApiError(String(e.code ?? 'INTERNAL'), String(e.message ?? 'Unknown error.'), e))
      }
    } else if (m.t === 'event') {
      listeners.get(m.id)?.(m.payload)
    }
  })
  const client: Record<string, unknown> = {}
  for (const method of API_METHOD_NAMES) {
    client[method] = (req?: unknown) =>
      new Promise((resolve, reject) => {
        const id = nextId++
        pending.set(id, { resolve, reject })
        try {
          transport.send({ t: 'call', id, method, req: req ?? null })
        } catch (err) {
          pending.delete(id)
          reject(err instanceof Error ? err : new Error(String(err)))
        }
      })
  }
  for (const event of apiEvents) {
    client[event] = (listener: (payload: unknown) => void): Unsubscribe => {
      const id = nextId++
      listeners.set(id, listener)
      transport.send({ t: 'sub', id, event })
      return () => {
        if (!listeners.delete(id)) return
        try {
          transport.send({ t: 'unsub', id })
        } catch {
          // Transport closed: the server dropped the subscription already.
        }
      }
    }
  }
  return client as unknown as ShardPressApi
}

/** Two transports connected in memory, with a structured clone in between like a real process boundary. */
export function memoryTransportPair(): [Transport, Transport] {
  const a = new Set<(m: unknown) => void>()
  const b = new Set<(m: unknown) => void>()
  const make = (mine: Set<(m: unknown) => void>, theirs: Set<(m: unknown) => void>): Transport => ({
    send(message) {
      const copy = structuredClone(message)
      queueMicrotask(() => {
        for (const l of theirs) l(copy)
      })
    },
    onMessage(listener) {
      mine.add(listener)
      return () => mine.delete(listener)
    },
  })
  return [make(a, b), make(b, a)]
}

export type { ApiEvent, ApiMethod }
