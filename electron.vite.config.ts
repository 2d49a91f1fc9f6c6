import { resolve } from 'node:path'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'electron-vite'

const r = (p: string) => resolve(import.meta.dirname, p)

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rolldownOptions: {
        input: { index: r('src-main/electron/main.ts') },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rolldownOptions: { input: { index: r('src-preload/index.ts') } },
    },
  },
  renderer: {
    root: r('src-renderer'),
    base: './',
    plugins: [react()],
    build: {
      outDir: r('out/renderer'),
      rolldownOptions: { input: { index: r('src-renderer/index.html') } },
    },
  },
})
