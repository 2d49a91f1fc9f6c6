// How the renderer reaches the service: the preload's window.shardpress inside Electron, otherwise the browser
// bridge's WebSocket with the token from the page URL. Both speak the same contract.
import type { ShardPressApi } from '../../src-main/core/api/contract'
import { createApiClient, type Transport, type WireMessage } from '../../src-main/core/api/proxy'

/** Extra shell functions only the desktop app has (native dialog, dropped file paths, menu commands). */
export interface DesktopShell {
  pathForFile(file: File): string
  pickFolder(): Promise<string | null>
  onMenuCommand(listener: (command: string, arg: string | null) => void): () => void
  notify(title: string, body: string): void
}

declare global {
  interface Window {
    shardpress?: ShardPressApi
    shardpressDesktop?: DesktopShell
  }
}

export function desktopShell(): DesktopShell | null {
  return typeof window !== 'undefined' ? (window.shardpressDesktop ?? null) : null
}

/** A transport over a WebSocket that queues messages until the socket is open. */
export function webSocketTransport(url: string, onClose: (why: string) => void): Transport {
  const ws = new WebSocket(url)
  const queue: string[] = []
  const listeners = new Set<(m: unknown) => void>()
  ws.addEventListener('open', () => {
    for (const m of queue.splice(0)) ws.send(m)
  })
  ws.addEventListener('message', (e) => {
    let parsed: unknown
    try {
      parsed = JSON.parse(String(e.data))
    } catch {
      return
    }
    for (const l of listeners) l(parsed)
  })
  ws.addEventListener('close', () => onClose('The connection to the ShardPress bridge closed.'))
  return {
    send(message: WireMessage) {
      const text = JSON.stringify(message)
      if (ws.readyState === WebSocket.OPEN) ws.send(text)
      else if (ws.readyState === WebSocket.CONNECTING) queue.push(text)
      else throw new Error('The connection to the ShardPress bridge is closed.')
    },
    onMessage(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
}

export function connectApi(onClose: (why: string) => void): ShardPressApi {
  if (window.shardpress) return window.shardpress
  const token = new URLSearchParams(window.location.search).get('token')
  if (!token) throw new Error('Open the address the `shardpress serve` command printed: it carries the access token.')
  const url = `ws://${window.location.host}/api?token=${encodeURIComponent(token)}`
  return createApiClient(webSocketTransport(url, onClose))
}
