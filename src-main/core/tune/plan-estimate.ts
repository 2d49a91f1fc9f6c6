// The Tune view's plan (global setting + per-group settings) as the pipeline's CompressionPlan, and estimates of
// it per tensor with the very same resolvePlan the compress job uses, so the estimate and the run agree on modes.
import type { EstimateLine, PlanEstimate, TunePlan } from '../api/contract'
import { CODEC_DTYPES } from '../pipeline/values'
import { type CompressionPlan, makePlan, resolvePlan } from '../plan'
import {
  type Calibration,
  DEFAULT_CALIBRATION,
  type EstimateSetting,
  type EstimateTotals,
  estimateAll,
  type PreparedTensors,
} from './estimator'

const GROUP_LABEL = 'group '

/** Group settings become role rules (plan rules match groups too), applied after the LLM defaults. */
export function planFromTune(plan: TunePlan): CompressionPlan {
  const rules = Object.entries(plan.groups)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([group, s]) => ({
      role: group,
      mode: s.mode,
      ...(s.mode === 'lossless' ? {} : { bound: s.bound }),
      label: `${GROUP_LABEL}${group}`,
    }))
  return makePlan(plan.mode, plan.bound, rules, true)
}

/** Reads back what planFromTune wrote; other rules of a hand-written plan are not shown in Tune. */
export function tuneFromPlan(plan: CompressionPlan): TunePlan {
  const groups: TunePlan['groups'] = {}
  for (const r of plan.rules) {
    if (typeof r.role === 'string' && r.mode && r.label?.startsWith(GROUP_LABEL)) {
      groups[r.role] = { mode: r.mode, bound: r.bound ?? plan.bound }
    }
  }
  return { mode: plan.mode, bound: plan.mode === 'lossless' ? plan.bound || 1e-3 : plan.bound, groups }
}

const codecDtypes = new Set<string>(CODEC_DTYPES)

function line(key: string, t: EstimateTotals): EstimateLine {
  return {
    key,
    tensors: t.tensors,
    elements: t.elements,
    originalBytes: t.originalBytes,
    compressedBytes: t.compressedBytes,
    ratio: t.originalBytes / Math.max(1, t.compressedBytes),
    bitsPerWeight: (t.compressedBytes * 8) / Math.max(1, t.elements),
    rmse: Math.sqrt(t.sumSquaredError / Math.max(1, t.elements)),
    maxError: t.maxError,
  }
}

export function estimatePlanOn(
  p: PreparedTensors,
  plan: TunePlan,
  cal: Calibration = DEFAULT_CALIBRATION,
): PlanEstimate {
  const t0 = performance.now()
  const compression = planFromTune(plan)
  // A Tune plan's rules look at role, group, dtype and size class only, so each class resolves once.
  const settings: EstimateSetting[] = p.classes.map((i) => {
    const t = p.tensors[i]!
    if (!codecDtypes.has(t.dtype)) return { mode: 'raw', bound: 0 }
    const c = resolvePlan(compression, {
      name: t.name,
      dtype: t.dtype,
      elementCount: t.elementCount,
      role: t.role,
      group: t.group,
    })
    // FP8 block scales are always stored exactly, whatever the plan says (as the compress job does).
    return { mode: t.role === 'fp8_scale' ? 'lossless' : c.mode, bound: c.bound }
  })
  const { total, groups } = estimateAll(p, (i) => settings[p.classOf[i]!]!, cal)
  return {
    total: line('all', total),
    groups: [...groups.entries()].map(([k, g]) => line(k, g)).sort((a, b) => b.originalBytes - a.originalBytes),
    millis: performance.now() - t0,
  }
}
