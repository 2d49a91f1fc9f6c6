// Outputs appear whole or not at all: everything is written under `<name>.partial-<pid>`, flushed, then renamed.
import { closeSync, fsyncSync, openSync } from 'node:fs'
import { copyFile, open, readdir, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

export const partialName = (finalPath: string, pid = process.pid): string => `${finalPath}.partial-${pid}`

export const isPartialName = (name: string): boolean => /\.partial-\d+$/.test(name)

/** Flushes a directory entry so a rename survives a crash. */
export function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic there.
  }
}

/** Flushes a finished temporary file and gives it its final name. */
export async function commitPartial(partial: string, finalPath: string): Promise<void> {
  const fh = await open(partial, 'r+')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(partial, finalPath)
  fsyncDir(dirname(finalPath))
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  // A killed earlier run may have left its own partial of this file behind.
  await removeStalePartials(path)
  const tmp = partialName(path)
  const fh = await open(tmp, 'w')
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, path)
  fsyncDir(dirname(path))
}

export async function copyFileAtomic(from: string, to: string): Promise<void> {
  await removeStalePartials(to)
  const tmp = partialName(to)
  await copyFile(from, tmp)
  await commitPartial(tmp, to)
}

/** Removes leftovers of earlier processes (`<name>.partial-<pid>`) next to a final name. */
export async function removeStalePartials(finalPath: string, keep?: string): Promise<void> {
  const dir = dirname(finalPath)
  const base = basename(finalPath)
  let names: string[] = []
  try {
    names = await readdir(dir)
  } catch {
    return
  }
  for (const n of names)
    if (n.startsWith(`${base}.partial-`) && isPartialName(n) && join(dir, n) !== keep)
      await rm(join(dir, n), { force: true })
}

/** Finds a leftover partial of an earlier process for this final name (for resuming), newest pid last. */
export async function findPartial(finalPath: string): Promise<string | undefined> {
  const dir = dirname(finalPath)
  const base = basename(finalPath)
  let names: string[] = []
  try {
    names = await readdir(dir)
  } catch {
    return undefined
  }
  const found = names.filter((n) => n.startsWith(`${base}.partial-`) && isPartialName(n)).sort()
  return found.length ? join(dir, found[found.length - 1]!) : undefined
}
