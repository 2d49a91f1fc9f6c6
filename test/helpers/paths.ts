// Where tests find the read-only shared models and data, and where they may write.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const repoRoot = resolve(import.meta.dirname, '..', '..')
export const sharedDir = process.env.SHARDPRESS_SHARED ?? resolve(repoRoot, '..', 'shared')
export const shared = (...parts: string[]): string => join(sharedDir, ...parts)

/** A fresh temporary folder for one test. */
export function tempDir(prefix = 'shardpress-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}
