// Appends compressed chunks to a container file and closes it with its index and trailer. The caller owns the
// temporary name and the final rename; reopen() continues a file cut back to its last journaled length.
import { type FileHandle, open } from 'node:fs/promises'
import { crc32 } from 'node:zlib'
import { type ContainerIndex, encodeIndex, encodePreamble, encodeTrailer, PREAMBLE_SIZE } from './format'

export class ContainerWriter {
  /** Writes run one after the other behind this promise; rewind, sync, finish and close wait for them. */
  private chain: Promise<void> = Promise.resolve()

  private constructor(
    readonly path: string,
    private fh: FileHandle,
    private pos: number,
  ) {}

  /** Starts a new container holding the original safetensors header JSON verbatim. */
  static async create(path: string, headerJson: Buffer): Promise<ContainerWriter> {
    const fh = await open(path, 'w')
    const head = Buffer.concat([encodePreamble(headerJson), headerJson])
    await fh.write(head, 0, head.length, 0)
    return new ContainerWriter(path, fh, head.length)
  }

  /** Reopens an unfinished container, dropping everything after `keepLength` (bytes not yet journaled). */
  static async reopen(path: string, keepLength: number): Promise<ContainerWriter> {
    const fh = await open(path, 'r+')
    await fh.truncate(keepLength)
    return new ContainerWriter(path, fh, keepLength)
  }

  /** Starts an empty file (for outputs that are not containers, such as reconstructed shards). */
  static async reopenEmpty(path: string): Promise<ContainerWriter> {
    const fh = await open(path, 'w')
    return new ContainerWriter(path, fh, 0)
  }

  /** Offset where the data region starts for a header of this length. */
  static dataStart(headerLength: number): number {
    return PREAMBLE_SIZE + headerLength
  }

  get position(): number {
    return this.pos
  }

  /**
   * Writes bytes at the end and returns their offset once they are written. The offset is taken now (`position`
   * before the call), so a caller may go on without waiting; `bytes` must stay untouched until the promise settles.
   * A failed write rejects its own promise only.
   */
  append(bytes: Uint8Array): Promise<number> {
    const at = this.pos
    this.pos += bytes.length
    const written = this.chain.then(async () => {
      let done = 0
      while (done < bytes.length) {
        const { bytesWritten } = await this.fh.write(bytes, done, bytes.length - done, at + done)
        done += bytesWritten
      }
    })
    this.chain = written.catch(() => {})
    return written.then(() => at)
  }

  /** Drops everything from `position` on (a tensor being rewritten), once the writes before are done. */
  async rewind(position: number): Promise<void> {
    await this.chain
    await this.fh.truncate(position)
    this.pos = position
  }

  /** Makes every write appended so far durable. */
  async sync(): Promise<void> {
    await this.chain
    await this.fh.sync()
  }

  /** Writes the index and trailer, flushes to disk and closes. */
  async finish(index: ContainerIndex): Promise<void> {
    const body = encodeIndex(index)
    const indexOffset = this.pos
    await this.append(body)
    await this.append(
      encodeTrailer({
        indexOffset,
        indexLength: body.length,
        indexCrc: crc32(body),
        tensorCount: index.tensors.length,
      }),
    )
    await this.fh.sync()
    await this.fh.close()
  }

  async close(): Promise<void> {
    await this.chain
    await this.fh.close().catch(() => {})
  }
}
