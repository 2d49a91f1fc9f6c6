// Downloads a model repository from the Hugging Face Hub (or any server that answers like it) into a local folder:
// weights, config and tokenizer files only, with progress, resumption of interrupted files and atomic renames.
import { createHash } from 'node:crypto'
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { open, rename } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { downloadFile, fileDownloadInfo, type ListFileEntry, listFiles } from '@huggingface/hub'
import { commitPartial, findPartial, partialName, removeStalePartials, writeFileAtomic } from '../pipeline/atomic'
import type { ProgressListener } from '../util/progress'

export type HubErrorCode = 'HUB_BAD_REPO' | 'HUB_NO_WEIGHTS' | 'HUB_REQUEST_FAILED' | 'HUB_CHECKSUM_MISMATCH'

export class HubError extends Error {
  override readonly name = 'HubError'
  constructor(
    readonly code: HubErrorCode,
    message: string,
    readonly file?: string,
  ) {
    super(message)
  }
}

export interface HubDownloadOptions {
  /** "owner/name" of a model repository. */
  repo: string
  /** Folder the files go to (created). */
  outDir: string
  revision?: string
  /** The Hub's address; default https://huggingface.co (tests point it at a local server). */
  hubUrl?: string
  accessToken?: string
  fetch?: typeof fetch
  onProgress?: ProgressListener
  signal?: AbortSignal
}

export interface DownloadedFile {
  path: string
  size: number
  /** 'downloaded', 'resumed' (continued from an interrupted partial file) or 'present' (already complete). */
  status: 'downloaded' | 'resumed' | 'present'
}

export interface HubDownloadResult {
  repo: string
  outDir: string
  files: DownloadedFile[]
  bytes: number
}

/** The files a model needs: weights in safetensors, the shard index, config and tokenizer. */
const WANTED = [
  /\.safetensors$/,
  /^model\.safetensors\.index\.json$/,
  /^config\.json$/,
  /^generation_config\.json$/,
  /^tokenizer\.json$/,
  /^tokenizer_config\.json$/,
  /^tokenizer\.model$/,
  /^special_tokens_map\.json$/,
  /^vocab\.json$/,
  /^merges\.txt$/,
  /^added_tokens\.json$/,
  /^chat_template\.(json|jinja)$/,
]

export function wantedFile(path: string): boolean {
  // Top-level files only: subfolders hold other formats (onnx/, original/, …).
  return !path.includes('/') && WANTED.some((re) => re.test(path))
}

/** Remembers which version (ETag) each partial file belongs to, so a resume never splices two versions. */
const STATE_NAME = '.shardpress-download.json'

interface DownloadState {
  repo: string
  revision: string
  etags: Record<string, string>
}

const REPO_RE = /^[\w-][\w.-]*\/[\w-][\w.-]*$/

export async function downloadModel(o: HubDownloadOptions): Promise<HubDownloadResult> {
  if (!REPO_RE.test(o.repo)) {
    throw new HubError('HUB_BAD_REPO', `"${o.repo}" is not a model repository name of the form owner/name.`)
  }
  const outDir = resolve(o.outDir)
  mkdirSync(outDir, { recursive: true })
  const revision = o.revision ?? 'main'
  const common = {
    repo: { type: 'model' as const, name: o.repo },
    revision,
    ...(o.hubUrl ? { hubUrl: o.hubUrl.replace(/\/+$/, '') } : {}),
    ...(o.accessToken ? { accessToken: o.accessToken } : {}),
    ...(o.fetch ? { fetch: o.fetch } : {}),
  }
  const entries: ListFileEntry[] = []
  try {
    for await (const e of listFiles({ ...common })) if (e.type === 'file' && wantedFile(e.path)) entries.push(e)
  } catch (err) {
    throw new HubError('HUB_REQUEST_FAILED', `Listing the files of ${o.repo} failed: ${(err as Error).message}`)
  }
  if (!entries.some((e) => e.path.endsWith('.safetensors'))) {
    throw new HubError('HUB_NO_WEIGHTS', `${o.repo} has no .safetensors weights at revision ${revision}.`)
  }
  entries.sort((a, b) => a.path.localeCompare(b.path))

  const statePath = join(outDir, STATE_NAME)
  let state: DownloadState = { repo: o.repo, revision, etags: {} }
  try {
    const s = JSON.parse(readFileSync(statePath, 'utf8')) as DownloadState
    if (s.repo === o.repo && s.revision === revision) state = s
  } catch {}

  const sizeOf = (e: ListFileEntry) => e.lfs?.size ?? e.size
  const bytesTotal = entries.reduce((a, e) => a + sizeOf(e), 0)
  let bytesBefore = 0
  const files: DownloadedFile[] = []
  const report = (done: number, i: number, current: string) =>
    o.onProgress?.({
      phase: 'download',
      bytesDone: done,
      bytesTotal,
      tensorsDone: i,
      tensorsTotal: entries.length,
      current,
    })
  for (let i = 0; i < entries.length; i++) {
    o.signal?.throwIfAborted()
    const e = entries[i]!
    const size = sizeOf(e)
    const finalPath = join(outDir, e.path)
    const sha256 = e.lfs?.oid
    if (existsSync(finalPath) && statSync(finalPath).size === size && (await matches(finalPath, sha256))) {
      files.push({ path: e.path, size, status: 'present' })
      bytesBefore += size
      report(bytesBefore, i + 1, e.path)
      continue
    }
    const info = await fileDownloadInfo({ ...common, path: e.path }).catch((err: Error) => {
      throw new HubError('HUB_REQUEST_FAILED', `Asking for ${e.path} of ${o.repo} failed: ${err.message}`, e.path)
    })
    if (!info) throw new HubError('HUB_REQUEST_FAILED', `${o.repo} lists ${e.path} but does not serve it.`, e.path)
    // A partial file of an earlier process continues where it stopped, if it belongs to the same version.
    const mine = partialName(finalPath)
    const earlier = await findPartial(finalPath)
    let offset = 0
    if (earlier && state.etags[e.path] === info.etag) {
      if (earlier !== mine) await rename(earlier, mine)
      offset = statSync(mine).size
      if (offset > info.size) offset = 0
    }
    await removeStalePartials(finalPath, offset > 0 ? mine : undefined)
    if (offset === 0) rmSync(mine, { force: true })
    state.etags[e.path] = info.etag
    await writeFileAtomic(statePath, JSON.stringify(state, null, 2))

    const blob = await downloadFile({ ...common, path: e.path, downloadInfo: info, xet: false })
    if (!blob) throw new HubError('HUB_REQUEST_FAILED', `${o.repo} does not serve ${e.path}.`, e.path)
    const fh = await open(mine, offset > 0 ? 'r+' : 'w')
    let written = offset
    try {
      if (offset < info.size) {
        const body = (offset > 0 ? blob.slice(offset) : blob).stream()
        const reader = body.getReader()
        for (;;) {
          if (o.signal?.aborted) {
            await reader.cancel()
            o.signal.throwIfAborted()
          }
          const { done, value } = await reader.read()
          if (done) break
          await fh.write(value, 0, value.byteLength, written)
          written += value.byteLength
          report(bytesBefore + written, i, e.path)
        }
      }
    } catch (err) {
      await fh.close()
      if ((err as Error).name === 'AbortError') throw err
      throw new HubError('HUB_REQUEST_FAILED', `Downloading ${e.path} stopped: ${(err as Error).message}`, e.path)
    }
    await fh.close()
    if (written !== info.size) {
      throw new HubError(
        'HUB_REQUEST_FAILED',
        `${e.path} arrived with ${written} of ${info.size} bytes; run again to resume.`,
        e.path,
      )
    }
    if (!(await matches(mine, sha256))) {
      rmSync(mine, { force: true })
      throw new HubError('HUB_CHECKSUM_MISMATCH', `${e.path} does not match the Hub's SHA-256; it was removed.`, e.path)
    }
    await commitPartial(mine, finalPath)
    files.push({ path: e.path, size, status: offset > 0 ? 'resumed' : 'downloaded' })
    bytesBefore += size
    report(bytesBefore, i + 1, e.path)
  }
  rmSync(statePath, { force: true })
  return { repo: o.repo, outDir, files, bytes: bytesBefore }
}

/** True when there is no checksum to compare with, or the file's SHA-256 is `sha256`. */
async function matches(file: string, sha256: string | undefined): Promise<boolean> {
  if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256)) return true
  const h = createHash('sha256')
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer)
  return h.digest('hex') === sha256
}
