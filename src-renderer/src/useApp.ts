// React access to the app store: one store per window, created in main.tsx and handed down by context.
import { createContext, useContext } from 'react'
import { useStore } from 'zustand'
import type { AppActions, AppState, AppStore } from './store'

export const StoreContext = createContext<AppStore | null>(null)

export function useApp<T>(selector: (s: AppState & AppActions) => T): T {
  const store = useContext(StoreContext)
  if (!store) throw new Error('The app store is missing.')
  return useStore(store, selector)
}
