// The files an evaluation run leaves behind, as the paper named them: results/eval_summary_<run>.csv (one row per
// variant) and results/decompressed_<run>_outputs.txt (generations side by side with the reference's).
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileAtomic } from '../util/atomic'
import type { EvaluationReport, VariantResult } from './evaluate'

const COLUMNS = [
  'variant',
  'role',
  'source',
  'file_bytes',
  'bits_per_weight',
  'ctx',
  'method',
  'chunks',
  'scored_tokens',
  'ppl',
  'ppl_stderr',
  'ppl_ratio',
  'ln_ppl_ratio',
  'kld_mean',
  'kld_stderr',
  'kld_median',
  'kld_p99',
  'kld_max',
  'top1',
  'top1_stderr',
  'delta_p_mean',
  'delta_p_rms',
  'delta_p_mean_abs',
  'generations_identical',
  'rouge_l',
  'bleu',
  'eval_tokens_per_s',
  'gen_tokens_per_s',
  'peak_rss_mb',
] as const

function csvCell(v: unknown): string {
  if (v === undefined || v === null || (typeof v === 'number' && Number.isNaN(v))) return ''
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(7)
  const s = String(v)
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

function row(v: VariantResult, role: string, report: EvaluationReport): Record<(typeof COLUMNS)[number], unknown> {
  const refPpl = report.reference?.perplexity?.ppl
  return {
    variant: v.name,
    role,
    source: v.source,
    file_bytes: v.fileBytes,
    bits_per_weight: v.bitsPerWeight,
    ctx: v.perplexity?.ctx,
    method: v.perplexity?.method,
    chunks: v.perplexity?.chunks,
    scored_tokens: v.perplexity?.tokens,
    ppl: v.perplexity?.ppl,
    ppl_stderr: v.perplexity?.pplStderr,
    ppl_ratio: refPpl && v.perplexity ? v.perplexity.ppl / refPpl : undefined,
    ln_ppl_ratio: v.divergence?.lnPplRatio,
    kld_mean: v.divergence?.kld.mean,
    kld_stderr: v.divergence?.kld.stderr,
    kld_median: v.divergence?.kld.median,
    kld_p99: v.divergence?.kld.p99,
    kld_max: v.divergence?.kld.max,
    top1: v.divergence?.top1.rate,
    top1_stderr: v.divergence?.top1.stderr,
    delta_p_mean: v.divergence?.deltaP.mean,
    delta_p_rms: v.divergence?.deltaP.rms,
    delta_p_mean_abs: v.divergence?.deltaP.meanAbs,
    generations_identical: v.comparison ? `${v.comparison.identical}/${v.comparison.perPrompt.length}` : undefined,
    rouge_l: v.comparison?.meanRougeL,
    bleu: v.comparison?.meanBleu,
    eval_tokens_per_s: v.perplexity?.tokensPerSecond,
    gen_tokens_per_s: v.generation?.tokensPerSecond,
    peak_rss_mb: v.peakRssMb,
  }
}

export function summaryCsv(report: EvaluationReport): string {
  const rows = [
    ...(report.reference ? [row(report.reference, 'reference', report)] : []),
    ...report.variants.map((v) => row(v, 'variant', report)),
  ]
  return [COLUMNS.join(','), ...rows.map((r) => COLUMNS.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n'
}

export function outputsText(report: EvaluationReport): string {
  const lines: string[] = []
  const ref = report.reference?.generation?.generations
  const prompts = ref ?? report.variants[0]?.generation?.generations ?? []
  prompts.forEach((g, i) => {
    lines.push(`=== prompt ${i + 1}: ${g.prompt}`)
    if (report.reference && ref) lines.push(`[${report.reference.name}] ${ref[i]!.text}`)
    for (const v of report.variants) {
      const vg = v.generation?.generations[i]
      if (!vg) continue
      const c = v.comparison?.perPrompt[i]
      const note = c
        ? c.firstDivergentToken === -1
          ? ' (identical)'
          : ` (diverges at token ${c.firstDivergentToken}; ROUGE-L ${c.rougeL.toFixed(3)}, BLEU ${c.bleu.toFixed(3)})`
        : ''
      lines.push(`[${v.name}]${note} ${vg.text}`)
    }
    lines.push('')
  })
  return lines.join('\n')
}

/** Writes both files into `dir` (created if needed) and returns their paths. */
export function writeEvaluationFiles(
  report: EvaluationReport,
  dir: string,
  run: string,
): { summary: string; outputs: string } {
  if (!/^[\w.-]+$/.test(run)) throw new RangeError(`run name ${run} may only use letters, digits, '.', '_' and '-'`)
  mkdirSync(dir, { recursive: true })
  const summary = join(dir, `eval_summary_${run}.csv`)
  const outputs = join(dir, `decompressed_${run}_outputs.txt`)
  writeFileAtomic(summary, summaryCsv(report))
  writeFileAtomic(outputs, outputsText(report))
  return { summary, outputs }
}
