// Preload (sandboxed, CommonJS): exposes the typed ShardPress API as window.shardpress, built from the contract's
// method list over one IPC channel, plus a few desktop-shell functions. The renderer never sees ipcRenderer.
import { contextBridge, ipcRenderer, webUtils } from 'electron'
import { createApiClient, type Transport } from '../src-main/core/api/proxy'
import { API_CHANNEL, DESKTOP_CHANNEL, MENU_CHANNEL } from '../src-main/electron/channels'

const transport: Transport = {
  send: (message) => ipcRenderer.send(API_CHANNEL, message),
  onMessage: (listener) => {
    const handler = (_e: Electron.IpcRendererEvent, message: unknown) => listener(message)
    ipcRenderer.on(API_CHANNEL, handler)
    return () => ipcRenderer.off(API_CHANNEL, handler)
  },
}

// contextBridge copies plain objects; the client is one, with a function per contract method and event.
const api = createApiClient(transport) as unknown as Record<string, unknown>
contextBridge.exposeInMainWorld('shardpress', { ...api })

contextBridge.exposeInMainWorld('shardpressDesktop', {
  /** The OS path of a dropped file or folder (File objects from drag and drop carry no path otherwise). */
  pathForFile: (file: File): string => webUtils.getPathForFile(file),
  pickFolder: (): Promise<string | null> => ipcRenderer.invoke(DESKTOP_CHANNEL, { command: 'pickFolder' }),
  notify: (title: string, body: string): void => {
    void ipcRenderer.invoke(DESKTOP_CHANNEL, { command: 'notify', title: String(title), body: String(body) })
  },
  onMenuCommand: (listener: (command: string, arg: string | null) => void): (() => void) => {
    const handler = (_e: Electron.IpcRendererEvent, m: { command?: unknown; arg?: unknown }) => {
      if (typeof m?.command === 'string') listener(m.command, typeof m.arg === 'string' ? m.arg : null)
    }
    ipcRenderer.on(MENU_CHANNEL, handler)
    return () => ipcRenderer.off(MENU_CHANNEL, handler)
  },
})
