// Worker thread entry: runs statistics tasks for the inventory's pool (see inventory.ts).
import { parentPort } from 'node:worker_threads'
import { errorReply } from '../util/workers'
import { packForWire } from './stats'
import { PieceReader, runStatsJob, type StatsTask } from './stats-job'

const reader = new PieceReader(1 << 20)

parentPort?.on('message', ({ id, task }: { id: number; task: StatsTask }) => {
  try {
    const results = task.jobs.map((job) => {
      try {
        return runStatsJob(job, reader, task.readBytes, (bytes) =>
          parentPort?.postMessage({ id, type: 'progress', bytes }),
        )
      } catch (err) {
        const e = err as { file?: string; tensor?: string }
        e.file ??= job.path
        e.tensor ??= job.tensor
        throw err
      }
    })
    const transfer = packForWire(results)
    parentPort?.postMessage({ id, type: 'result', result: results }, transfer)
  } catch (err) {
    parentPort?.postMessage(errorReply(id, err))
  }
})
