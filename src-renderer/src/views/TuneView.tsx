// Tune: a global mode and bound (log slider + exact entry) and per-group overrides, with live estimates of size,
// ratio, bits per weight and error from the inventory samples, charts, and plan save/load.
import { useEffect, useMemo, useState } from 'react'
import {
  Bar,
  BarChart,
  CartesianGrid,
  Line,
  LineChart,
  ReferenceLine,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts'
import type { StorageMode, TunePlan, TuneSetting } from '../../../src-main/core/api/contract'
import { ChartFrame } from '../components/ChartFrame'
import { saveText } from '../download'
import { formatBound, formatBytes, formatNumber } from '../format'
import { useApp } from '../useApp'

const LOG_MIN = -7
const LOG_MAX = -0.5
const MODES: StorageMode[] = ['lossless', 'abs', 'rel']

function BoundControl(props: { label: string; id: string; setting: TuneSetting; onChange: (s: TuneSetting) => void }) {
  const { setting, onChange } = props
  const [text, setText] = useState(formatBound(setting.bound))
  useEffect(() => setText(formatBound(setting.bound)), [setting.bound])
  const lossless = setting.mode === 'lossless'
  const log = Math.log10(Math.max(setting.bound, 10 ** LOG_MIN))
  return (
    <div className="slider-row">
      <label htmlFor={`${props.id}-slider`}>{props.label}</label>
      <select
        aria-label={`${props.label} mode`}
        value={setting.mode}
        onChange={(e) => onChange({ ...setting, mode: e.target.value as StorageMode })}
      >
        {MODES.map((m) => (
          <option key={m} value={m}>
            {m}
          </option>
        ))}
      </select>
      <input
        id={`${props.id}-slider`}
        type="range"
        min={LOG_MIN}
        max={LOG_MAX}
        step={0.01}
        value={log}
        disabled={lossless}
        aria-valuetext={formatBound(setting.bound)}
        data-testid={`${props.id}-slider`}
        onChange={(e) => onChange({ ...setting, bound: Number((10 ** Number(e.target.value)).toPrecision(3)) })}
      />
      <input
        aria-label={`${props.label} exact bound`}
        value={text}
        disabled={lossless}
        onChange={(e) => setText(e.target.value)}
        onBlur={() => {
          const v = Number(text)
          if (Number.isFinite(v) && v > 0) onChange({ ...setting, bound: v })
          else setText(formatBound(setting.bound))
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter') (e.target as HTMLInputElement).blur()
        }}
      />
    </div>
  )
}

export function TuneView() {
  const model = useApp((s) => s.model)
  const inventory = useApp((s) => s.inventory)
  const plan = useApp((s) => s.plan)
  const estimate = useApp((s) => s.estimate)
  const curve = useApp((s) => s.curve)
  const setGlobal = useApp((s) => s.setGlobal)
  const setGroup = useApp((s) => s.setGroup)
  const setPlan = useApp((s) => s.setPlan)
  const refreshEstimate = useApp((s) => s.refreshEstimate)
  const refreshCurve = useApp((s) => s.refreshCurve)
  const [planFile, setPlanFile] = useState('')
  const info = useApp((s) => s.info)

  const groups = useMemo(() => {
    const seen = new Map<string, number>()
    for (const t of inventory?.tensors ?? []) seen.set(t.group, (seen.get(t.group) ?? 0) + t.bytes)
    return [...seen.entries()].sort((a, b) => b[1] - a[1]).map(([g]) => g)
  }, [inventory])

  // biome-ignore lint/correctness/useExhaustiveDependencies: recompute when the model's inventory arrives
  useEffect(() => {
    if (inventory) {
      void refreshEstimate()
      void refreshCurve()
    }
  }, [inventory])
  // biome-ignore lint/correctness/useExhaustiveDependencies: the curve follows mode and group overrides
  useEffect(() => {
    if (inventory) void refreshCurve()
  }, [plan.mode, plan.groups])

  if (!model) return <p className="muted">Open a model first.</p>
  if (!inventory) return <p className="muted">Waiting for the inventory of {model.name}…</p>
  const t = estimate?.total
  const groupData = (estimate?.groups ?? []).map((g) => ({ group: g.key, ratio: Number(g.ratio.toFixed(3)) }))
  const curveData = curve.map((p) => ({ bound: p.bound, ratio: Number(p.ratio.toFixed(3)) }))

  return (
    <div>
      <section className="panel" aria-labelledby="tune-h">
        <h2 id="tune-h">Plan</h2>
        <BoundControl
          id="global"
          label="All tensors"
          setting={plan}
          onChange={(s) => setGlobal({ mode: s.mode, bound: s.bound })}
        />
        <h3 style={{ fontSize: 13, margin: '12px 0 4px' }}>Per group</h3>
        {groups.map((g) => {
          const override = plan.groups[g]
          return (
            <div key={g} className="row">
              <input
                type="checkbox"
                id={`ovr-${g}`}
                checked={override !== undefined}
                onChange={(e) => setGroup(g, e.target.checked ? { mode: plan.mode, bound: plan.bound } : null)}
              />
              <label htmlFor={`ovr-${g}`} style={{ width: 90 }}>
                own setting
              </label>
              <div style={{ flex: 1 }}>
                <BoundControl
                  id={`group-${g}`}
                  label={g}
                  setting={override ?? { mode: plan.mode, bound: plan.bound }}
                  onChange={(s) => setGroup(g, s)}
                />
              </div>
            </div>
          )
        })}
        <div className="row" style={{ marginTop: 12 }}>
          <input
            aria-label="Plan file"
            placeholder={`${info?.workDir ?? ''}/plan.json`}
            value={planFile}
            onChange={(e) => setPlanFile(e.target.value)}
            style={{ flex: 1, minWidth: 260 }}
          />
          <PlanFileButtons file={planFile.trim()} plan={plan} onLoad={setPlan} />
          <button
            type="button"
            onClick={() => saveText(JSON.stringify(plan, null, 2), 'plan.json', 'application/json')}
          >
            Download plan
          </button>
        </div>
      </section>

      <section className="panel" aria-labelledby="est-h" data-testid="estimate">
        <h2 id="est-h">Estimate</h2>
        <div className="figures">
          <div>
            <div className="figure" data-testid="estimate-size">
              {formatBytes(t?.compressedBytes)}
            </div>
            <div className="muted">compressed (from {formatBytes(t?.originalBytes)})</div>
          </div>
          <div>
            <div className="figure" data-testid="estimate-ratio">
              {t ? `${t.ratio.toFixed(2)}×` : '–'}
            </div>
            <div className="muted">ratio</div>
          </div>
          <div>
            <div className="figure">{formatNumber(t?.bitsPerWeight)}</div>
            <div className="muted">bits per weight</div>
          </div>
          <div>
            <div className="figure">{formatNumber(t?.rmse)}</div>
            <div className="muted">RMSE</div>
          </div>
          <div>
            <div className="figure">{formatNumber(t?.maxError)}</div>
            <div className="muted">max error</div>
          </div>
          <div>
            <div className="figure">{estimate ? `${estimate.millis.toFixed(1)} ms` : '–'}</div>
            <div className="muted">estimator time</div>
          </div>
        </div>
      </section>

      <div className="grid2">
        <section className="panel">
          <ChartFrame title="Estimated ratio by group" fileName="ratio-by-group">
            <ResponsiveContainer>
              <BarChart data={groupData} margin={{ top: 24, right: 8, bottom: 0, left: 0 }}>
                <CartesianGrid strokeDasharray="3 3" opacity={0.3} />
                <XAxis dataKey="group" fontSize={11} />
                <YAxis fontSize={11} width={40} />
                <Tooltip />
                <Bar dataKey="ratio" fill="#4f7cf0" isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
          </ChartFrame>
        </section>
        <section className="panel">
          <ChartFrame title="Estimated ratio vs global bound" fileName="ratio-vs-bound">
            <ResponsiveContainer>
              <LineChart data={curveData} margin={{ top: 24, right: 12, bottom: 0, left: 0 }}>
                <CartesianGrid strokeDasharray="3 3" opacity={0.3} />
                <XAxis
                  dataKey="bound"
                  type="number"
                  scale="log"
                  domain={['dataMin', 'dataMax']}
                  tickFormatter={(v: number) => v.toExponential(0)}
                  fontSize={11}
                />
                <YAxis fontSize={11} width={40} />
                <Tooltip labelFormatter={(v) => `bound ${Number(v).toExponential(1)}`} />
                {plan.mode !== 'lossless' && <ReferenceLine x={plan.bound} stroke="#d33" />}
                <Line dataKey="ratio" stroke="#4f7cf0" dot isAnimationActive={false} />
              </LineChart>
            </ResponsiveContainer>
          </ChartFrame>
        </section>
      </div>
    </div>
  )
}

function PlanFileButtons(props: { file: string; plan: TunePlan; onLoad: (p: TunePlan) => void }) {
  const api = useApp((s) => s.api)
  const setError = useApp((s) => s.setError)
  const run = async (fn: () => Promise<void>) => {
    try {
      await fn()
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
    }
  }
  return (
    <>
      <button
        type="button"
        disabled={!props.file}
        onClick={() => void run(async () => void (await api.savePlan({ file: props.file, plan: props.plan })))}
      >
        Save plan
      </button>
      <button
        type="button"
        disabled={!props.file}
        onClick={() => void run(async () => props.onLoad(await api.loadPlan({ file: props.file })))}
      >
        Load plan
      </button>
    </>
  )
}
