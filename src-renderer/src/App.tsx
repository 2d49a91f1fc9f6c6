// The window: a tab bar over the five views, a one-sentence error banner, and the desktop menu's commands.
import { useEffect } from 'react'
import { desktopShell } from './api'
import { saveText } from './download'
import { VIEWS } from './store'
import { rowsToCsv } from './table'
import { useApp } from './useApp'
import { CompareView } from './views/CompareView'
import { InventoryView } from './views/InventoryView'
import { JobsView } from './views/JobsView'
import { OpenView } from './views/OpenView'
import { TuneView } from './views/TuneView'

export function App() {
  const view = useApp((s) => s.view)
  const setView = useApp((s) => s.setView)
  const error = useApp((s) => s.error)
  const setError = useApp((s) => s.setError)
  const busy = useApp((s) => s.busy)
  const model = useApp((s) => s.model)
  const init = useApp((s) => s.init)
  const openModel = useApp((s) => s.openModel)
  const inventory = useApp((s) => s.inventory)

  // biome-ignore lint/correctness/useExhaustiveDependencies: once per window
  useEffect(() => {
    void init()
  }, [])

  // A folder or file dropped anywhere opens it (desktop app); the browser would otherwise navigate to the file.
  useEffect(() => {
    const over = (e: DragEvent) => e.preventDefault()
    const drop = (e: DragEvent) => {
      e.preventDefault()
      const file = e.dataTransfer?.files[0]
      const path = file ? (desktopShell()?.pathForFile(file) ?? '') : ''
      if (path) {
        setView('open')
        void openModel(path)
      }
    }
    window.addEventListener('dragover', over)
    window.addEventListener('drop', drop)
    return () => {
      window.removeEventListener('dragover', over)
      window.removeEventListener('drop', drop)
    }
  }, [openModel, setView])

  useEffect(() => {
    const shell = desktopShell()
    if (!shell) return
    return shell.onMenuCommand((command, arg) => {
      if (command === 'open' && arg) void openModel(arg)
      else if (command === 'export' && inventory) saveText(rowsToCsv(inventory.tensors), 'inventory.csv')
      else if (command === 'view' && arg && VIEWS.some((v) => v.id === arg))
        setView(arg as (typeof VIEWS)[number]['id'])
    })
  }, [openModel, inventory, setView])

  return (
    <div className="app">
      <header className="topbar">
        <h1>ShardPress</h1>
        <nav className="tabs" aria-label="Views">
          {VIEWS.map((v) => (
            <button
              key={v.id}
              type="button"
              aria-current={view === v.id ? 'page' : undefined}
              onClick={() => setView(v.id)}
              disabled={v.id !== 'open' && !model}
            >
              {v.label}
            </button>
          ))}
        </nav>
        <span className="model-name" data-testid="model-name">
          {model ? model.path : 'no model open'}
        </span>
      </header>
      {error && (
        <div className="banner" role="alert">
          {error}
          <button type="button" onClick={() => setError(null)}>
            Dismiss
          </button>
        </div>
      )}
      {busy && (
        <div className="busy" role="status">
          {busy}
        </div>
      )}
      <main>
        {view === 'open' && <OpenView />}
        {view === 'inventory' && <InventoryView />}
        {view === 'tune' && <TuneView />}
        {view === 'jobs' && <JobsView />}
        {view === 'compare' && <CompareView />}
      </main>
    </div>
  )
}
