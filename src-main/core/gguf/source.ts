// Where conversion gets tensor bytes from: by default a model folder's safetensors; the pipeline can pass its
// own source (reconstructed tensors) through the same small interface.
import { ShardedSafetensors } from '../safetensors'

export interface SourceTensor {
  name: string
  /** safetensors dtype name: F32, F16, BF16, F64 */
  dtype: string
  /** HF order, slowest first */
  shape: number[]
}

export interface TensorSource {
  tensors: SourceTensor[]
  /** The tensor's raw little-endian bytes in `dtype`. */
  read(name: string): Promise<Uint8Array>
  close?(): Promise<void>
}

/** The tensors of a model folder (single file, index, or loose shards). */
export async function openSafetensorsSource(modelDir: string): Promise<TensorSource> {
  const st = await ShardedSafetensors.open(modelDir)
  return {
    tensors: st.tensors.map(({ info }) => ({ name: info.name, dtype: info.dtype, shape: info.shape })),
    read: async (name) => {
      const { shard } = st.locate(name)
      return shard.read(name)
    },
    close: () => st.close(),
  }
}
