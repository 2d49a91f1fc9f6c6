// Compare: pick variants (original, runs, Q8_0, Q4_0), run one prompt on all of them side by side with streaming
// tokens and the first divergence highlighted, and measure perplexity, KLD, top-1, speed and memory.
import { useEffect } from 'react'
import {
  CartesianGrid,
  LabelList,
  ResponsiveContainer,
  Scatter,
  ScatterChart,
  Tooltip,
  XAxis,
  YAxis,
  ZAxis,
} from 'recharts'
import { ChartFrame } from '../components/ChartFrame'
import { saveText } from '../download'
import { formatBytes, formatNumber } from '../format'
import { firstDivergence } from '../store'
import { useApp } from '../useApp'

export function CompareView() {
  const model = useApp((s) => s.model)
  const variants = useApp((s) => s.variants)
  const chosen = useApp((s) => s.chosen)
  const prompt = useApp((s) => s.prompt)
  const columns = useApp((s) => s.columns)
  const metrics = useApp((s) => s.metrics)
  const loadVariants = useApp((s) => s.loadVariants)
  const toggleVariant = useApp((s) => s.toggleVariant)
  const setPrompt = useApp((s) => s.setPrompt)
  const runPrompt = useApp((s) => s.runPrompt)
  const evaluate = useApp((s) => s.evaluate)
  const busy = useApp((s) => s.busy)

  // biome-ignore lint/correctness/useExhaustiveDependencies: reload when the model changes
  useEffect(() => {
    if (model) void loadVariants()
  }, [model?.path])

  if (!model) return <p className="muted">Open a model first.</p>
  const order = chosen.filter((id) => columns[id])
  const reference = order.length > 0 ? columns[order[0]!]!.tokens : []
  const label = (id: string) => variants.find((v) => v.id === id)?.label ?? id
  const rd = metrics
    .filter((m) => m.bitsPerWeight !== null && m.kld !== null)
    .map((m) => ({ label: m.label, bpw: m.bitsPerWeight, kld: m.kld }))

  return (
    <div>
      <section className="panel" aria-labelledby="variants-h">
        <h2 id="variants-h">Variants</h2>
        <div className="row">
          {variants.map((v) => (
            <label key={v.id} className="row" style={{ gap: 4 }}>
              <input
                type="checkbox"
                data-testid={`variant-${v.kind}`}
                checked={chosen.includes(v.id)}
                onChange={() => toggleVariant(v.id)}
              />
              {v.label}
              <span className="muted">{v.sizeBytes !== null ? formatBytes(v.sizeBytes) : ''}</span>
            </label>
          ))}
          <button type="button" onClick={() => void loadVariants()}>
            Refresh
          </button>
        </div>
        <form
          className="row"
          style={{ marginTop: 12 }}
          onSubmit={(e) => {
            e.preventDefault()
            void runPrompt()
          }}
        >
          <label htmlFor="prompt">Prompt</label>
          <input id="prompt" value={prompt} onChange={(e) => setPrompt(e.target.value)} style={{ flex: 1 }} />
          <button type="submit" className="primary" disabled={chosen.length === 0}>
            Run on {chosen.length} variant{chosen.length === 1 ? '' : 's'}
          </button>
          <button type="button" disabled={chosen.length === 0 || busy !== null} onClick={() => void evaluate()}>
            Measure
          </button>
        </form>
      </section>

      {order.length > 0 && (
        <div className="columns" data-testid="generations">
          {order.map((id, k) => {
            const col = columns[id]!
            const div = k === 0 ? null : firstDivergence(reference, col.tokens)
            return (
              <section key={id} className="column" data-testid={`column-${id}`}>
                <div className="row">
                  <strong>{label(id)}</strong>
                  <span className="muted" style={{ marginLeft: 'auto', fontSize: 12 }}>
                    {col.done ? 'done' : 'generating…'}
                    {col.tokensPerSecond !== null ? ` · ${col.tokensPerSecond.toFixed(0)} tok/s` : ''}
                  </span>
                </div>
                {col.error && <p style={{ color: 'var(--warn)' }}>{col.error}</p>}
                <pre data-testid="output">
                  <span className="muted">{prompt}</span>
                  {col.tokens.map((t, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: tokens are positional and only appended
                    <span key={i} className={div !== null && i >= div ? 'diverged' : undefined}>
                      {t}
                    </span>
                  ))}
                </pre>
                {k > 0 && (
                  <div className="muted" style={{ fontSize: 12 }}>
                    {div === null ? 'same tokens as the first column so far' : `diverges at token ${div + 1}`}
                  </div>
                )}
              </section>
            )
          })}
        </div>
      )}

      {metrics.length > 0 && (
        <section className="panel" style={{ marginTop: 16 }} aria-labelledby="metrics-h" data-testid="metrics">
          <h2 id="metrics-h">Fidelity</h2>
          <table className="plain">
            <thead>
              <tr>
                <th>variant</th>
                <th className="num">size</th>
                <th className="num">bits/weight</th>
                <th className="num">perplexity</th>
                <th className="num">KLD</th>
                <th className="num">top-1</th>
                <th className="num">tokens/s</th>
                <th className="num">memory</th>
              </tr>
            </thead>
            <tbody>
              {metrics.map((m) => (
                <tr key={m.variant}>
                  <td>{m.label}</td>
                  <td className="num">{formatBytes(m.sizeBytes)}</td>
                  <td className="num">{formatNumber(m.bitsPerWeight)}</td>
                  <td className="num">{formatNumber(m.perplexity, 5)}</td>
                  <td className="num">{formatNumber(m.kld)}</td>
                  <td className="num">{m.top1 === null ? '–' : `${(m.top1 * 100).toFixed(1)} %`}</td>
                  <td className="num">{formatNumber(m.tokensPerSecond)}</td>
                  <td className="num">{formatBytes(m.memoryBytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <button
            type="button"
            style={{ marginTop: 8 }}
            onClick={() =>
              saveText(
                [
                  'variant,size_bytes,bits_per_weight,perplexity,kld,top1,tokens_per_s,memory_bytes',
                  ...metrics.map((m) =>
                    [
                      m.label,
                      m.sizeBytes,
                      m.bitsPerWeight,
                      m.perplexity,
                      m.kld,
                      m.top1,
                      m.tokensPerSecond,
                      m.memoryBytes,
                    ]
                      .map((x) => x ?? '')
                      .join(','),
                  ),
                ].join('\n'),
                'fidelity.csv',
              )
            }
          >
            Export CSV
          </button>
          {rd.length > 0 && (
            <ChartFrame title="Rate–distortion: KL divergence vs bits per weight" fileName="rate-distortion">
              <ResponsiveContainer>
                <ScatterChart margin={{ top: 24, right: 12, bottom: 0, left: 0 }}>
                  <CartesianGrid strokeDasharray="3 3" opacity={0.3} />
                  <XAxis dataKey="bpw" type="number" name="bits/weight" fontSize={11} />
                  <YAxis dataKey="kld" type="number" name="KLD" fontSize={11} width={60} />
                  <ZAxis dataKey="label" name="variant" />
                  <Tooltip />
                  <Scatter data={rd} fill="#4f7cf0" isAnimationActive={false}>
                    <LabelList dataKey="label" position="top" fontSize={11} fill="currentColor" />
                  </Scatter>
                </ScatterChart>
              </ResponsiveContainer>
            </ChartFrame>
          )}
        </section>
      )}
    </div>
  )
}
