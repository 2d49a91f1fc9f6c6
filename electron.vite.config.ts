import { resolve } from 'node:path'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'electron-vite'

const r = (p: string) => resolve(import.meta.dirname, p)

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rolldownOptions: {
        // Worker scripts are their own entries: core finds them next to the bundle (siblingWorkerUrl), so all
        // entries and shared chunks stay flat in out/main.
        input: {
          index: r('src-main/electron/main.ts'),
          'stats-worker': r('src-main/core/model/stats-worker.ts'),
          worker: r('src-main/core/pipeline/worker.ts'),
          'prepare-worker': r('src-main/core/tune/prepare-worker.ts'),
        },
        output: { entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js' },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      // The renderer is sandboxed, and a sandboxed preload must be one CommonJS script.
      rolldownOptions: {
        input: { index: r('src-preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs', inlineDynamicImports: true },
      },
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
