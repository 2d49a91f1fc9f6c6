// `npm run demo`: ShardPress's main job, end to end. On the built-in generated model (or --model <folder>, or
// --hub <repo>): inventory → compress at the paper's bounds → reconstruct → verify → evaluate against Q8_0, Q4_0
// and the original, all the same way → report.md + report.html with charts in the results folder (--out).
import { existsSync, readFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { formatBytes } from '../src-main/cli/progress-bar'
import { downloadModel } from '../src-main/core/hub'
import { buildInventory } from '../src-main/core/model'
import { verifyModel } from '../src-main/core/pipeline'
import { autoTune, FidelityBench, rateDistortion, sampleText, type TuneResult } from '../src-main/core/rd'
import { writeReport } from '../src-main/core/report'
import { DEFAULT_MODEL, generateModel } from '../src-main/core/synth'
import type { ProgressEvent } from '../src-main/core/util/progress'

const USAGE = `Usage: npm run demo -- [--model DIR | --hub OWNER/NAME [--hub-url URL]] [--text FILE] [--out DIR]
       [--bounds 1e-5,1e-4,1e-3] [--mode rel|abs] [--tune] [--ctx N] [--chunks N] [--threads N] [--workers N]

  --model DIR     a local Hugging Face model folder (default: the built-in generated Llama-shaped model)
  --hub REPO      download REPO's safetensors, config and tokenizer from the Hugging Face Hub first
  --text FILE     evaluation text (documents split on <|endoftext|>); default: text sampled from the model
  --out DIR       results folder (default results)
  --bounds LIST   error bounds (default the paper's 1e-5,1e-4,1e-3)
  --mode MODE     rel (default: bound × each tensor's value range) or abs
  --tune          also auto-tune plans to Q8_0's KLD and to half of Q4_0's, and show them in the report
`

function fail(msg: string): never {
  process.stderr.write(`demo: ${msg}\n`)
  process.exit(2)
}

function progressLine(prefix: string) {
  let last = 0
  return (e: ProgressEvent) => {
    const now = Date.now()
    if (now - last < 500 && e.bytesDone < e.bytesTotal) return
    last = now
    const pct = e.bytesTotal ? ((100 * e.bytesDone) / e.bytesTotal).toFixed(0) : '100'
    process.stderr.write(
      `  ${prefix} ${pct}% (${formatBytes(e.bytesDone)} of ${formatBytes(e.bytesTotal)})${e.current ? ` ${e.current}` : ''}\n`,
    )
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      hub: { type: 'string' },
      'hub-url': { type: 'string' },
      text: { type: 'string' },
      out: { type: 'string' },
      bounds: { type: 'string' },
      mode: { type: 'string' },
      tune: { type: 'boolean' },
      ctx: { type: 'string' },
      chunks: { type: 'string' },
      threads: { type: 'string' },
      workers: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return
  }
  if (values.model && values.hub) fail('give --model or --hub, not both.')
  const out = resolve(values.out ?? 'results')
  const bounds = (values.bounds ?? '1e-5,1e-4,1e-3').split(',').map(Number)
  if (bounds.some((b) => !(b > 0) || !Number.isFinite(b))) fail('--bounds needs positive numbers.')
  const mode = (values.mode ?? 'rel') as 'abs' | 'rel'
  if (mode !== 'abs' && mode !== 'rel') fail('--mode must be rel or abs.')
  const int = (s: string | undefined, name: string) => {
    if (s === undefined) return undefined
    const n = Number(s)
    if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer.`)
    return n
  }
  const ctx = int(values.ctx, 'ctx')
  const chunks = int(values.chunks, 'chunks')
  const threads = int(values.threads, 'threads')
  const workers = int(values.workers, 'workers')
  const t0 = Date.now()
  const step = (s: string) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${s}\n`)

  // 1. The model
  let model: string
  let description: string
  if (values.hub) {
    model = join(out, 'model', values.hub.replace('/', '--'))
    step(`downloading ${values.hub} to ${model}`)
    const r = await downloadModel({
      repo: values.hub,
      outDir: model,
      ...(values['hub-url'] ? { hubUrl: values['hub-url'] } : {}),
      ...(process.env.HF_TOKEN ? { accessToken: process.env.HF_TOKEN } : {}),
      onProgress: progressLine('download'),
    })
    description = `${values.hub} from the Hugging Face Hub (${r.files.length} files, ${formatBytes(r.bytes)})`
  } else if (values.model) {
    model = resolve(values.model)
    if (!existsSync(model)) fail(`${model} does not exist.`)
    description = 'a local model folder'
  } else {
    model = join(out, 'model', DEFAULT_MODEL.name)
    if (!existsSync(join(model, 'config.json'))) {
      step(`generating the built-in model (${DEFAULT_MODEL.preset}, scale ${DEFAULT_MODEL.scale}) in ${model}`)
      await generateModel(DEFAULT_MODEL.preset, model, {
        scale: DEFAULT_MODEL.scale,
        seed: DEFAULT_MODEL.seed,
        tied: DEFAULT_MODEL.tied,
      })
    }
    description =
      `the built-in generated model (${DEFAULT_MODEL.preset} preset at scale ${DEFAULT_MODEL.scale}, seed ${DEFAULT_MODEL.seed}): ` +
      'realistic weight statistics but random-ish weights, so its KL divergences mean something only relative to each other'
  }

  // 2. Inventory
  step('inventory')
  const inv = await buildInventory(model, { stats: false })
  const dtypes = Object.entries(inv.byDtype)
    .map(([d, t]) => `${d} ${t.tensors}`)
    .join(', ')
  step(
    `${inv.totals.tensors} tensors, ${inv.totals.params.toLocaleString('en-US')} parameters, ${formatBytes(inv.totals.bytes)} (${dtypes})`,
  )

  // 3. The evaluation text and the bench (the original scored once)
  let text: string
  let textSource: string
  if (values.text) {
    text = readFileSync(values.text, 'utf8')
    textSource = basename(values.text)
  } else {
    step('sampling an evaluation text from the original model (seeded)')
    text = await sampleText(model, { ...(threads ? { threads } : {}), cacheDir: join(out, 'gguf-cache') })
    textSource = 'sampled from the original model (16 documents of 96 tokens, seed 1, temperature 0.8)'
  }
  step('scoring the original on the text')
  const bench = await FidelityBench.open({
    reference: model,
    text,
    ...(ctx ? { ctx } : {}),
    ...(chunks ? { chunks } : {}),
    ...(threads ? { threads } : {}),
    cacheDir: join(out, 'gguf-cache'),
  })
  const tunes: TuneResult[] = []
  const verify: { run: string; ok: boolean; tensors: number; problems: string[] }[] = []
  try {
    // 4. Compress at the bounds → reconstruct → evaluate; Q8_0, Q4_0 and the original the same way
    step(`compress at ${mode} bounds ${bounds.join(', ')}, reconstruct, evaluate with Q8_0, Q4_0 and the original`)
    const rd = await rateDistortion({
      model,
      outDir: out,
      text,
      bounds,
      mode,
      bench,
      ...(workers ? { workers } : {}),
      onProgress: (m) => step(m),
    })
    // 5. Verify every run's compressed model against the original, value by value
    for (const r of rd.rows) {
      if (!r.point) continue
      step(`verifying ${r.point.run}`)
      const v = await verifyModel({
        input: join(r.point.runDir, 'model'),
        original: model,
        ...(workers ? { workers } : {}),
      })
      verify.push({ run: r.point.run, ok: v.ok, tensors: v.tensors.length, problems: v.problems.map((p) => p.message) })
    }
    // 6. Optional: auto-tuned plans at the baselines' fidelity
    if (values.tune) {
      const q8 = rd.rows.find((r) => r.label === 'Q8_0')!.metrics.kld
      const q4 = rd.rows.find((r) => r.label === 'Q4_0')!.metrics.kld
      for (const [name, kld] of [
        ['half-q4_0', q4 / 2],
        ['q8_0', q8],
      ] as const) {
        step(`auto-tune: mean KLD ≤ ${kld.toExponential(3)} (${name})`)
        tunes.push(
          await autoTune({
            model,
            outDir: join(out, `tune-${name}`),
            text,
            target: { kld },
            mode: 'abs',
            bench,
            measured: rd.rows.flatMap((r) => (r.point ? [r.point] : [])),
            ...(workers ? { workers } : {}),
            onProgress: (m) => step(m),
          }),
        )
      }
    }
    // 7. The report
    const notes = [
      'The original, every reconstruction and both baselines are converted to GGUF by our own code and run with ' +
        'node-llama-cpp on the CPU; llama.cpp additionally quantizes activations to 8 bits inside Q8_0/Q4_0 dot ' +
        'products, so the baselines carry that cost too, as they would for any user of those files.',
      'Norms (and biases) stay exact in every lossy plan and are not counted in bits/weight; the Q formats keep them in F32.',
      ...(values.model || values.hub ? [] : [description]),
    ]
    const goals = tunes.length ? goalLines(tunes) : []
    const files = await writeReport(out, {
      title: `ShardPress: error-bounded compression vs quantization on ${basename(model)}`,
      model: {
        path: model,
        description,
        params: inv.totals.params,
        bytes: inv.totals.bytes,
        tensors: inv.totals.tensors,
      },
      textSource,
      rd,
      tunes,
      verify,
      notes: [...goals, ...notes],
      facts: [
        ['tensors', `${inv.totals.tensors} (${dtypes})`],
        ['size on disk', formatBytes(inv.totals.bytes)],
        ['bounds', `${mode} ${bounds.join(', ')}`],
        ['total time', `${((Date.now() - t0) / 1000).toFixed(0)} s`],
      ],
    })
    step(`report: ${files.markdown}`)
    step(`        ${files.html}`)
    process.stdout.write(`\n${rd.finding}\n${tunes.map((t) => tuneLine(t)).join('\n')}\n`)
    if (verify.some((v) => !v.ok)) process.exitCode = 1
  } finally {
    await bench.dispose()
  }
}

function tuneLine(t: TuneResult): string {
  return t.best
    ? `tuned for KLD ≤ ${t.target.kld?.toExponential(3)}: ${t.best.bitsPerWeight.toFixed(3)} bits/weight (KLD ${t.best.metrics.kld.toExponential(3)})`
    : `tuned for KLD ≤ ${t.target.kld?.toExponential(3)}: not reached`
}

/** The issue's goals: ≤ 0.5× Q4_0's KLD at ≤ 4.5 bits/weight, ≤ Q8_0's KLD at ≤ 8.5 bits/weight. */
function goalLines(tunes: TuneResult[]): string[] {
  const out: string[] = []
  for (const [name, limit, t] of [
    ['half of Q4_0', 4.5, tunes[0]],
    ['Q8_0', 8.5, tunes[1]],
  ] as const) {
    if (!t?.best) {
      out.push(`Goal "KLD ≤ ${name}'s at ≤ ${limit} bits/weight": no tuned plan met the KLD target.`)
      continue
    }
    const met = t.best.bitsPerWeight <= limit
    out.push(
      `Goal "KLD ≤ ${name}'s at ≤ ${limit} bits/weight": ${met ? 'met' : 'not met'}; the tuned plan takes ` +
        `${t.best.bitsPerWeight.toFixed(3)} bits/weight for KLD ${t.best.metrics.kld.toExponential(3)} ` +
        `(target ${t.target.kld?.toExponential(3)}).`,
    )
  }
  return out
}

main().catch((err: Error & { code?: string }) => {
  process.stderr.write(`demo: ${err.message}${err.code ? ` [${err.code}]` : ''}\n`)
  process.exit(1)
})
