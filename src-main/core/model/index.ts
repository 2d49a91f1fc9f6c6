// core/model: what a model folder holds (discovery), what each tensor is (roles), and the inventory with statistics.
export {
  bytesPerElement,
  codeTable,
  decodeBf16,
  decodeToFloat64,
  isNumericDtype,
  type NumericDtype,
} from './decode'
export { ModelError, type ModelErrorCode } from './errors'
export {
  buildInventory,
  type Inventory,
  type InventoryOptions,
  type InventoryTensor,
  inventoryToCsv,
  inventoryToJson,
  type Totals,
} from './inventory'
export { type ModelInfo, type ModelLayout, type ModelShard, type ModelTensor, openModel, TOKENIZER_FILES } from './open'
export { classifyTensor, type TensorClass, type TensorGroup, type TensorRole } from './roles'
export { type BlockScaleSpec, HISTOGRAM_BINS, type Histogram, SAMPLE_SIZE, type TensorStats } from './stats'
