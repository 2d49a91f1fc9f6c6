// A CompressionPlan says, for each tensor, which mode and bound to use: a global setting, then LLM defaults, then
// the user's overrides by role, name pattern or size, where a later matching rule wins over an earlier one.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { ErrorMode } from '../codec/types'
import { classifyTensor } from '../model/roles'
import { writeFileAtomic } from '../pipeline/atomic'

/** One override. Every condition given must hold; the fields given replace (or scale) the current choice. */
export interface PlanRule {
  /** Tensor roles or groups as the inventory names them (embedding, lm_head, norm, bias, fp8_scale, attn_q,
   *  mlp_down, expert, router, … or the groups attention, mlp, experts, other). */
  role?: string | string[]
  /** A glob over the tensor name (`*` any run of characters, `?` one), or a regex written as `/…/`. */
  name?: string
  dtype?: string | string[]
  /** Applies only to tensors with at most this many elements. */
  maxElements?: number
  mode?: ErrorMode
  bound?: number
  /** Multiplies the bound chosen so far (e.g. 0.5 for a tighter bound on embeddings). */
  boundScale?: number
  /** Shown in reports as the reason for the choice. */
  label?: string
}

export interface CompressionPlan {
  version: 1
  mode: ErrorMode
  bound: number
  /** Apply the LLM defaults (norms, biases, scales and tiny tensors lossless; embeddings and lm_head × 0.5). */
  llmDefaults: boolean
  rules: PlanRule[]
}

/** The tensor facts a plan looks at. */
export interface PlanTensor {
  name: string
  dtype: string
  elementCount: number
  role?: string
  group?: string
}

export interface TensorChoice {
  mode: ErrorMode
  /** 0 when lossless. */
  bound: number
  /** Which rule decided ('global' when none matched). */
  rule: string
}

export class PlanError extends Error {
  override readonly name = 'PlanError'
  constructor(
    readonly code: 'INVALID_PLAN',
    message: string,
    readonly file?: string,
  ) {
    super(file ? `${message} (${file})` : message)
  }
}

/** Tensors smaller than this are always kept lossless by the LLM defaults: the codec gains nothing on them. */
export const TINY_TENSOR_ELEMENTS = 4096

export const LLM_DEFAULT_RULES: PlanRule[] = [
  { role: ['embedding', 'lm_head'], boundScale: 0.5, label: 'embeddings and lm_head: half the bound' },
  { role: ['norm', 'bias', 'fp8_scale'], mode: 'lossless', label: 'norms, biases and scales: lossless' },
  { maxElements: TINY_TENSOR_ELEMENTS - 1, mode: 'lossless', label: 'tiny tensors: lossless' },
]

export function makePlan(mode: ErrorMode, bound: number, rules: PlanRule[] = [], llmDefaults = true): CompressionPlan {
  return { version: 1, mode, bound: mode === 'lossless' ? 0 : bound, llmDefaults, rules }
}

/** The mode and bound one tensor gets under a plan. */
export function resolvePlan(plan: CompressionPlan, tensor: PlanTensor): TensorChoice {
  const cls = tensor.role ? undefined : classifyTensor(tensor.name)
  const role = tensor.role ?? cls!.role
  const group = tensor.group ?? cls?.group ?? role
  let choice: TensorChoice = { mode: plan.mode, bound: plan.mode === 'lossless' ? 0 : plan.bound, rule: 'global' }
  const rules = plan.llmDefaults ? [...LLM_DEFAULT_RULES, ...plan.rules] : plan.rules
  rules.forEach((rule, i) => {
    if (!ruleMatches(rule, tensor, role, group)) return
    let { mode, bound } = choice
    if (rule.mode) mode = rule.mode
    if (rule.bound !== undefined) bound = rule.bound
    else if (choice.mode === 'lossless' && mode !== 'lossless') bound = plan.bound
    if (rule.boundScale !== undefined) bound *= rule.boundScale
    choice = { mode, bound: mode === 'lossless' ? 0 : bound, rule: rule.label ?? `rule ${i + 1}` }
  })
  return choice
}

function ruleMatches(rule: PlanRule, t: PlanTensor, role: string, group: string): boolean {
  if (rule.role !== undefined && !asList(rule.role).some((r) => r === role || r === group)) return false
  if (rule.dtype !== undefined && !asList(rule.dtype).includes(t.dtype)) return false
  if (rule.maxElements !== undefined && t.elementCount > rule.maxElements) return false
  if (rule.name !== undefined && !namePattern(rule.name).test(t.name)) return false
  return true
}

const asList = (v: string | string[]): string[] => (Array.isArray(v) ? v : [v])

const patternCache = new Map<string, RegExp>()
/** `/re/` is a regex; anything else a whole-name glob. */
export function namePattern(p: string): RegExp {
  let re = patternCache.get(p)
  if (!re) {
    if (p.length > 1 && p.startsWith('/') && p.endsWith('/')) re = new RegExp(p.slice(1, -1))
    else {
      const body = p
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')
      re = new RegExp(`^${body}$`)
    }
    patternCache.set(p, re)
  }
  return re
}

/** A stable digest of a plan, so a resumed job can tell it is continuing the same work. */
export function planFingerprint(plan: CompressionPlan): string {
  return createHash('sha256').update(JSON.stringify(plan)).digest('hex').slice(0, 16)
}

const MODES: ErrorMode[] = ['lossless', 'abs', 'rel']

/** Checks and normalizes a plan read from JSON. */
export function parsePlan(value: unknown, file?: string): CompressionPlan {
  const fail = (why: string): never => {
    throw new PlanError('INVALID_PLAN', `The compression plan is invalid: ${why}`, file)
  }
  if (!value || typeof value !== 'object') fail('not an object')
  const v = value as Record<string, unknown>
  if (v.version !== undefined && v.version !== 1) fail(`unknown version ${String(v.version)}`)
  const mode = v.mode as ErrorMode
  if (!MODES.includes(mode)) fail(`mode must be one of ${MODES.join(', ')}`)
  const bound = v.bound === undefined ? 0 : v.bound
  if (typeof bound !== 'number' || !Number.isFinite(bound) || bound < 0) fail('bound must be a number ≥ 0')
  if (mode !== 'lossless' && !((bound as number) > 0)) fail('a lossy mode needs a bound > 0')
  const rules = v.rules === undefined ? [] : v.rules
  if (!Array.isArray(rules)) fail('rules must be a list')
  const out: PlanRule[] = (rules as unknown[]).map((r, i) => {
    if (!r || typeof r !== 'object') fail(`rule ${i + 1} is not an object`)
    const rule = r as PlanRule
    if (rule.mode !== undefined && !MODES.includes(rule.mode)) fail(`rule ${i + 1} has an unknown mode`)
    for (const k of ['bound', 'boundScale', 'maxElements'] as const) {
      const x = rule[k]
      if (x !== undefined && (typeof x !== 'number' || !Number.isFinite(x) || x < 0))
        fail(`rule ${i + 1}: ${k} must be a number ≥ 0`)
    }
    if (rule.name !== undefined) {
      if (typeof rule.name !== 'string') fail(`rule ${i + 1}: name must be a string`)
      try {
        namePattern(rule.name)
      } catch {
        fail(`rule ${i + 1}: ${rule.name} is not a valid pattern`)
      }
    }
    return rule
  })
  return makePlan(mode, bound as number, out, v.llmDefaults === undefined ? true : Boolean(v.llmDefaults))
}

export function loadPlan(path: string): CompressionPlan {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    throw new PlanError('INVALID_PLAN', 'The compression plan file cannot be read', path)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new PlanError('INVALID_PLAN', 'The compression plan is not valid JSON', path)
  }
  return parsePlan(json, path)
}

export async function savePlan(path: string, plan: CompressionPlan): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(plan, null, 2)}\n`)
}
