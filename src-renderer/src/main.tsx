// Renderer entry: connect to the service (Electron preload or browser bridge), create the store, render.
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './App'
import { connectApi } from './api'
import './app.css'
import { createAppStore } from './store'
import { StoreContext } from './useApp'

const root = createRoot(document.getElementById('root') as HTMLElement)
try {
  let store: ReturnType<typeof createAppStore> | null = null
  const api = connectApi((why) => store?.getState().setError(why))
  store = createAppStore(api)
  root.render(
    <StrictMode>
      <StoreContext.Provider value={store}>
        <App />
      </StoreContext.Provider>
    </StrictMode>,
  )
} catch (err) {
  root.render(<p style={{ padding: 24 }}>{err instanceof Error ? err.message : String(err)}</p>)
}
