// A pool worker for the WorkerPool tests: answers each task after `ms` of busy work with the task's value, the
// number of tasks that were waiting in this worker's own queue meanwhile, its thread id and the URL of the script it
// runs from; fails or exits the thread on request.
import { parentPort, threadId } from 'node:worker_threads'
import { errorReply } from '../../src-main/core/util/workers'

export interface EchoTask {
  value: number
  ms: number
  fail?: boolean
  exit?: boolean
}

let queued = 0
parentPort?.on('message', (msg: { id: number; task: EchoTask }) => {
  queued++
  // Work synchronously, as the codec does: messages posted meanwhile wait in this thread's queue.
  setImmediate(() => {
    const { task } = msg
    if (task.exit) process.exit(3)
    const end = performance.now() + task.ms
    while (performance.now() < end) {}
    const waiting = queued - 1
    queued--
    if (task.fail)
      parentPort!.postMessage(
        errorReply(msg.id, Object.assign(new Error(`task ${task.value} failed`), { code: 'BOOM' })),
      )
    else
      parentPort!.postMessage({
        id: msg.id,
        type: 'result',
        result: { value: task.value, waiting, threadId, script: import.meta.url },
      })
  })
})
