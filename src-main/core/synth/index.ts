// core/synth: synthetic models with real naming, shapes, dtypes and realistic value statistics.
export {
  assignShards,
  DEFAULT_MODEL,
  type GeneratedModel,
  type GenerateOptions,
  generateModel,
  shardFileName,
} from './generate'
export { PRESETS, type PresetName, type PresetPlan, presetPlan, type SynthTensor } from './presets'
export { heavyTailTable, Rng, streamSeed } from './random'
export { bpeDecode, bpeEncode, buildTokenizer } from './tokenizer'
export { E4M3_MAX, MatrixSource, quantizeBlockRow, toBf16, toE4M3 } from './values'
