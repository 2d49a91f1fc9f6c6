// Worker thread entry: prepares the Tune estimator's per-tensor curves off the main thread (a 92k-tensor model
// takes seconds), then hands the typed arrays back without copying.
import { parentPort } from 'node:worker_threads'
import { prepareTensors, type TuneTensor } from './estimator'

parentPort?.once('message', (tensors: TuneTensor[]) => {
  try {
    const p = prepareTensors(tensors)
    const { bits, mse, scale, losslessBits, dtypeBits, classOf, classes } = p
    parentPort?.postMessage({ ok: true, bits, mse, scale, losslessBits, dtypeBits, classOf, classes }, [
      bits.buffer as ArrayBuffer,
      mse.buffer as ArrayBuffer,
      scale.buffer as ArrayBuffer,
      losslessBits.buffer as ArrayBuffer,
      dtypeBits.buffer as ArrayBuffer,
      classOf.buffer as ArrayBuffer,
    ])
  } catch (err) {
    parentPort?.postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) })
  }
})
