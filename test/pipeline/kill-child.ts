// Child process for the kill test: runs one compress or decompress job to completion unless it is killed first.
import { compressModel } from '../../src-main/core/pipeline/compress'
import { decompressModel } from '../../src-main/core/pipeline/decompress'
import { makePlan } from '../../src-main/core/plan/plan'

const [op, from, to] = process.argv.slice(2)
if (op === 'compress') {
  await compressModel({
    model: from!,
    outDir: to!,
    plan: makePlan('rel', 1e-3),
    workers: 2,
    chunkElements: 2048,
    commitIntervalMs: 0,
  })
} else {
  await decompressModel({ input: from!, outDir: to!, workers: 2, commitIntervalMs: 0 })
}
process.stdout.write('done\n')
