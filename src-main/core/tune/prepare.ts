// Preparing the estimator for a whole model: inline for small models, in a worker thread for large ones, so the
// process that serves the UI never stalls. Samples go to the worker and are not kept: the curves replace them.
import { siblingWorkerUrl, spawnWorker } from '../util/workers'
import { type PreparedTensors, prepareTensors, type TuneTensor } from './estimator'

/** Below this many tensors preparing inline is faster than starting a worker. */
const INLINE_TENSORS = 2000

export async function prepareTensorsAsync(tensors: TuneTensor[]): Promise<PreparedTensors> {
  if (tensors.length < INLINE_TENSORS) return prepareTensors(tensors)
  const samples: Float64Array[] = []
  const wire = tensors.map((t) => {
    const s = Float64Array.from(t.sample)
    samples.push(s)
    return { ...t, sample: s }
  })
  const worker = spawnWorker(siblingWorkerUrl(import.meta.url, 'prepare-worker'))
  try {
    const reply = await new Promise<Record<string, unknown>>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
      worker.once('exit', (code) => reject(new Error(`The estimator worker stopped (exit code ${code}).`)))
      worker.postMessage(
        wire,
        samples.map((s) => s.buffer as ArrayBuffer),
      )
    })
    if (reply.ok !== true) throw new Error(`Preparing the size estimates failed: ${String(reply.message)}`)
    const kept = tensors.map((t) => ({ ...t, sample: [] }))
    return {
      count: tensors.length,
      tensors: kept,
      bits: reply.bits as Float32Array,
      mse: reply.mse as Float32Array,
      scale: reply.scale as Float64Array,
      losslessBits: reply.losslessBits as Float32Array,
      dtypeBits: reply.dtypeBits as Float32Array,
      classOf: reply.classOf as Int32Array,
      classes: reply.classes as number[],
    }
  } finally {
    worker.removeAllListeners('exit')
    await worker.terminate()
  }
}
