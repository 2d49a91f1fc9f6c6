// Preload: exposes the typed ShardPress API to the renderer; the renderer never sees ipcRenderer.
import { contextBridge } from 'electron'

contextBridge.exposeInMainWorld('shardpress', { version: '0.1.0' })
