// Electron main process: the thin desktop shell over core/. It owns windows, the menu, the folder dialog and
// notifications; every request from a window goes through the one service contract (validated in serveApi).
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import {
  app,
  BrowserWindow,
  dialog,
  type IpcMainEvent,
  type IpcMainInvokeEvent,
  ipcMain,
  Menu,
  type MenuItemConstructorOptions,
  Notification,
  session,
  type WebContents,
} from 'electron'
import type { ApiService, JobProgress } from '../core/api/contract'
import { serveApi, type Transport } from '../core/api/proxy'
import { bool, obj, oneOf, optional, str } from '../core/api/schema'
import { createShardPressService } from '../core/api/service'
import { API_CHANNEL, DESKTOP_CHANNEL, MENU_CHANNEL } from './channels'

const RENDERER_HTML = join(import.meta.dirname, '../renderer/index.html')
const RENDERER_URL = pathToFileURL(RENDERER_HTML).href
/** Jobs shorter than this end without a system notification. */
const NOTIFY_AFTER_MS = 10_000

app.enableSandbox()

let service: ApiService

/** Only our own page, in the top frame of one of our windows, may talk to the main process. */
function trustedSender(sender: WebContents, frame: Electron.WebFrameMain | null): boolean {
  const win = BrowserWindow.fromWebContents(sender)
  if (!win || win.webContents !== sender || !frame || frame !== sender.mainFrame) return false
  return frame.url.split(/[?#]/)[0] === RENDERER_URL
}

function ipcTransport(contents: WebContents): Transport {
  return {
    send: (message) => {
      if (!contents.isDestroyed()) contents.send(API_CHANNEL, message)
    },
    onMessage: (listener) => {
      const handler = (event: IpcMainEvent, message: unknown) => {
        if (event.sender !== contents || !trustedSender(event.sender, event.senderFrame)) return
        listener(message)
      }
      ipcMain.on(API_CHANNEL, handler)
      return () => ipcMain.off(API_CHANNEL, handler)
    },
  }
}

const desktopRequest = obj({
  command: oneOf('pickFolder', 'notify'),
  title: optional(str({ max: 200 })),
  body: optional(str({ max: 1000 })),
  files: optional(bool()),
})

async function pickModel(win: BrowserWindow | null, files = false): Promise<string | null> {
  const options: Electron.OpenDialogOptions = {
    title: 'Open a model',
    properties: files ? ['openFile'] : ['openDirectory'],
    filters: files ? [{ name: 'Safetensors or shard index', extensions: ['safetensors', 'json'] }] : [],
  }
  const r = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options)
  return r.canceled || r.filePaths.length === 0 ? null : r.filePaths[0]!
}

function sendMenu(command: string, arg: string | null = null): void {
  const win = BrowserWindow.getFocusedWindow() ?? BrowserWindow.getAllWindows()[0]
  win?.webContents.send(MENU_CHANNEL, { command, arg })
}

async function buildMenu(): Promise<void> {
  const recent = await service.listRecent().catch(() => [])
  const isMac = process.platform === 'darwin'
  const views = ['open', 'inventory', 'tune', 'jobs', 'compare']
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        {
          label: 'Open Model Folder…',
          accelerator: 'CmdOrCtrl+O',
          click: async () => {
            const p = await pickModel(BrowserWindow.getFocusedWindow())
            if (p) sendMenu('open', p)
          },
        },
        {
          label: 'Open Safetensors File…',
          accelerator: 'CmdOrCtrl+Shift+O',
          click: async () => {
            const p = await pickModel(BrowserWindow.getFocusedWindow(), true)
            if (p) sendMenu('open', p)
          },
        },
        {
          label: 'Open Recent',
          submenu:
            recent.length > 0
              ? recent.map((r) => ({ label: `${r.name} — ${r.path}`, click: () => sendMenu('open', r.path) }))
              : [{ label: 'No recent models', enabled: false }],
        },
        { type: 'separator' },
        { label: 'Export Inventory as CSV…', accelerator: 'CmdOrCtrl+E', click: () => sendMenu('export') },
        { type: 'separator' },
        isMac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [
        ...views.map((v, i) => ({
          label: v[0]!.toUpperCase() + v.slice(1),
          accelerator: `CmdOrCtrl+${i + 1}`,
          click: () => sendMenu('view', v),
        })),
        { type: 'separator' as const },
        { role: 'resetZoom' as const },
        { role: 'zoomIn' as const },
        { role: 'zoomOut' as const },
        { role: 'togglefullscreen' as const },
      ],
    },
    { role: 'windowMenu' },
  ]
  Menu.setApplicationMenu(Menu.buildFromTemplate(template))
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 820,
    show: false,
    title: 'ShardPress',
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      sandbox: true,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      spellcheck: false,
      // Middle-click would open links in new windows; the app has no links to follow.
      disableBlinkFeatures: 'Auxclick',
    },
  })
  const contents = win.webContents
  // No navigation away from the app and no new windows (the app has no external links).
  contents.on('will-navigate', (e, url) => {
    if (url.split(/[?#]/)[0] !== RENDERER_URL) e.preventDefault()
  })
  contents.on('will-redirect', (e) => e.preventDefault())
  contents.on('will-attach-webview', (e) => e.preventDefault())
  contents.setWindowOpenHandler(() => ({ action: 'deny' }))
  const stop = serveApi(service, ipcTransport(contents))
  win.on('closed', stop)
  win.once('ready-to-show', () => win.show())
  void win.loadFile(RENDERER_HTML)
  return win
}

function watchJobs(): void {
  service.onJobProgress((p: JobProgress) => {
    if (p.state !== 'done' && p.state !== 'failed') return
    if (Date.now() - p.startedAt < NOTIFY_AFTER_MS || !Notification.isSupported()) return
    const title = p.state === 'done' ? `ShardPress: ${p.kind} finished` : `ShardPress: ${p.kind} failed`
    new Notification({ title, body: p.message ?? p.output }).show()
  })
}

app.whenReady().then(() => {
  service = createShardPressService({
    host: 'electron',
    stateDir: app.getPath('userData'),
    workDir: join(app.getPath('documents'), 'ShardPress'),
  })
  // Nothing remote is ever loaded; refuse every permission a page might ask for.
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false))
  session.defaultSession.webRequest.onBeforeRequest((details, callback) => {
    const ok =
      details.url.startsWith('file://') || details.url.startsWith('devtools://') || details.url.startsWith('data:')
    callback({ cancel: !ok })
  })
  ipcMain.handle(DESKTOP_CHANNEL, async (event: IpcMainInvokeEvent, raw: unknown) => {
    if (!trustedSender(event.sender, event.senderFrame)) throw new Error('Request refused: unknown sender.')
    const req = desktopRequest(raw, 'desktop request')
    if (req.command === 'pickFolder') return pickModel(BrowserWindow.fromWebContents(event.sender), req.files)
    if (Notification.isSupported()) new Notification({ title: req.title ?? 'ShardPress', body: req.body ?? '' }).show()
    return null
  })
  watchJobs()
  void buildMenu()
  // The recent list changes when a model is opened; rebuild the menu then.
  const openModel = service.openModel.bind(service)
  service.openModel = async (req) => {
    const summary = await openModel(req)
    void buildMenu()
    return summary
  }
  createWindow()
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow()
  })
})

app.on('web-contents-created', (_e, contents) => {
  contents.on('will-navigate', (e, url) => {
    if (url.split(/[?#]/)[0] !== RENDERER_URL) e.preventDefault()
  })
  contents.setWindowOpenHandler(() => ({ action: 'deny' }))
})

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit()
})
