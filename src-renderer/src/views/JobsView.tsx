// Jobs: start compress / reconstruct / verify / sweep with the current plan, follow per-shard progress and ETA,
// cancel or resume, and read the results as tables and charts.
import { useMemo, useState } from 'react'
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts'
import type { JobKind, JobProgress, JobResult } from '../../../src-main/core/api/contract'
import { ChartFrame } from '../components/ChartFrame'
import { saveText } from '../download'
import { formatBytes, formatEta, formatNumber } from '../format'
import { useApp } from '../useApp'

const KINDS: { kind: JobKind; label: string }[] = [
  { kind: 'compress', label: 'Compress' },
  { kind: 'decompress', label: 'Reconstruct' },
  { kind: 'verify', label: 'Verify' },
  { kind: 'sweep', label: 'Sweep' },
]

function Progress({ done, total, label }: { done: number; total: number; label: string }) {
  const pct = total > 0 ? Math.min(100, (100 * done) / total) : 0
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(pct)}
    >
      <div style={{ width: `${pct}%` }} />
    </div>
  )
}

function JobCard({ job }: { job: JobProgress }) {
  const cancelJob = useApp((s) => s.cancelJob)
  const startJob = useApp((s) => s.startJob)
  const plan = useApp((s) => s.plan)
  const result = useApp((s) => s.results[job.jobId])
  const running = job.state === 'running' || job.state === 'queued'
  return (
    <section className="panel" data-testid={`job-${job.jobId}`} data-state={job.state}>
      <div className="row">
        <strong>{job.kind}</strong>
        <span className="muted">{job.input}</span>
        <span style={{ marginLeft: 'auto' }} data-testid="job-state">
          {job.state}
        </span>
        {running && (
          <button type="button" onClick={() => void cancelJob(job.jobId)}>
            Cancel
          </button>
        )}
        {(job.state === 'cancelled' || job.state === 'failed') && (
          <button
            type="button"
            onClick={() => void startJob({ kind: job.kind, input: job.input, output: job.output, plan, resume: true })}
          >
            Resume
          </button>
        )}
      </div>
      <div style={{ margin: '8px 0' }}>
        <Progress done={job.bytesDone} total={job.bytesTotal} label={`${job.kind} progress`} />
        <div className="row muted" style={{ fontSize: 12, marginTop: 4 }}>
          <span data-testid="job-bytes">
            {formatBytes(job.bytesDone)} of {formatBytes(job.bytesTotal)}
          </span>
          <span>
            {job.tensorsDone} / {job.tensorsTotal} tensors
          </span>
          <span>ETA {running ? formatEta(job.etaSeconds) : '–'}</span>
          <span>→ {job.output}</span>
        </div>
        {job.message && <div className="muted">{job.message}</div>}
      </div>
      {job.shards.length > 1 &&
        job.shards.map((s) => (
          <div key={s.name} className="row" style={{ fontSize: 12 }}>
            <span style={{ width: 260, overflow: 'hidden', textOverflow: 'ellipsis' }}>{s.name}</span>
            <div style={{ flex: 1 }}>
              <Progress done={s.bytesDone} total={s.bytesTotal} label={`shard ${s.name}`} />
            </div>
          </div>
        ))}
      {result && <ResultView result={result} />}
    </section>
  )
}

function ResultView({ result }: { result: JobResult }) {
  const byGroup = useMemo(() => {
    const m = new Map<string, { original: number; compressed: number; maxErr: number }>()
    for (const t of result.tensors) {
      const g = m.get(t.group) ?? { original: 0, compressed: 0, maxErr: 0 }
      g.original += t.originalBytes
      g.compressed += t.compressedBytes
      g.maxErr = Math.max(g.maxErr, t.maxAbsError)
      m.set(t.group, g)
    }
    return [...m.entries()].map(([group, g]) => ({
      group,
      ratio: Number((g.original / Math.max(1, g.compressed)).toFixed(3)),
      maxAbsError: g.maxErr,
    }))
  }, [result])
  const topTensors = useMemo(
    () =>
      [...result.tensors]
        .sort((a, b) => b.originalBytes - a.originalBytes)
        .slice(0, 24)
        .map((t) => ({ name: t.name.split('.').slice(-3).join('.'), ratio: Number(t.ratio.toFixed(3)), rmse: t.rmse })),
    [result],
  )
  const csv = () =>
    saveText(
      [
        'tensor,group,original_bytes,compressed_bytes,ratio,max_abs_error,rmse',
        ...result.tensors.map((t) =>
          [t.name, t.group, t.originalBytes, t.compressedBytes, t.ratio, t.maxAbsError, t.rmse].join(','),
        ),
      ].join('\n'),
      `${result.kind}-${result.jobId}.csv`,
    )
  return (
    <div data-testid="job-result">
      {result.error && <p style={{ color: 'var(--warn)' }}>{result.error}</p>}
      {result.ratio !== null && (
        <p>
          Ratio <strong data-testid="job-ratio">{result.ratio.toFixed(3)}×</strong>: {formatBytes(result.originalBytes)}{' '}
          → {formatBytes(result.compressedBytes)}{' '}
          {result.tensors.length > 0 && (
            <button type="button" onClick={csv}>
              Export CSV
            </button>
          )}
        </p>
      )}
      {result.sweep.length > 0 && (
        <ChartFrame title="Ratio and max error vs bound" fileName={`sweep-${result.jobId}`}>
          <ResponsiveContainer>
            <LineChart data={result.sweep} margin={{ top: 24, right: 12, bottom: 0, left: 0 }}>
              <CartesianGrid strokeDasharray="3 3" opacity={0.3} />
              <XAxis dataKey="bound" type="number" scale="log" domain={['dataMin', 'dataMax']} fontSize={11} />
              <YAxis yAxisId="r" fontSize={11} width={40} />
              <YAxis
                yAxisId="e"
                orientation="right"
                fontSize={11}
                width={60}
                tickFormatter={(v: number) => v.toExponential(0)}
              />
              <Tooltip />
              <Legend />
              <Line yAxisId="r" dataKey="ratio" stroke="#4f7cf0" isAnimationActive={false} />
              <Line yAxisId="e" dataKey="maxAbsError" stroke="#d9822b" isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
        </ChartFrame>
      )}
      {result.ratio === null && byGroup.length > 0 && (
        <ChartFrame title="Largest error per group" fileName={`error-group-${result.jobId}`} height={200}>
          <ResponsiveContainer>
            <BarChart data={byGroup} margin={{ top: 24, right: 8, bottom: 0, left: 0 }}>
              <CartesianGrid strokeDasharray="3 3" opacity={0.3} />
              <XAxis dataKey="group" fontSize={11} />
              <YAxis fontSize={11} width={60} tickFormatter={(v: number) => v.toExponential(0)} />
              <Tooltip />
              <Bar dataKey="maxAbsError" fill="#d9822b" isAnimationActive={false} />
            </BarChart>
          </ResponsiveContainer>
        </ChartFrame>
      )}
      {result.ratio !== null && byGroup.length > 0 && (
        <div className="grid2">
          <ChartFrame title="Ratio per group" fileName={`ratio-group-${result.jobId}`} height={200}>
            <ResponsiveContainer>
              <BarChart data={byGroup} margin={{ top: 24, right: 8, bottom: 0, left: 0 }}>
                <CartesianGrid strokeDasharray="3 3" opacity={0.3} />
                <XAxis dataKey="group" fontSize={11} />
                <YAxis fontSize={11} width={40} />
                <Tooltip />
                <Bar dataKey="ratio" fill="#4f7cf0" isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
          </ChartFrame>
          <ChartFrame title="Ratio of the largest tensors" fileName={`ratio-tensor-${result.jobId}`} height={200}>
            <ResponsiveContainer>
              <BarChart data={topTensors} margin={{ top: 24, right: 8, bottom: 0, left: 0 }}>
                <CartesianGrid strokeDasharray="3 3" opacity={0.3} />
                <XAxis dataKey="name" fontSize={9} interval={0} angle={-30} textAnchor="end" height={50} />
                <YAxis fontSize={11} width={40} />
                <Tooltip />
                <Bar dataKey="ratio" fill="#6aa56a" isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
          </ChartFrame>
        </div>
      )}
      {result.tensors.length > 0 && (
        <p className="muted">
          {result.tensors.length} tensors, worst max error{' '}
          {formatNumber(Math.max(...result.tensors.map((t) => t.maxAbsError)))}
        </p>
      )}
    </div>
  )
}

export function JobsView() {
  const model = useApp((s) => s.model)
  const jobs = useApp((s) => s.jobs)
  const plan = useApp((s) => s.plan)
  const info = useApp((s) => s.info)
  const startJob = useApp((s) => s.startJob)
  const [kind, setKind] = useState<JobKind>('compress')
  const [input, setInput] = useState('')
  const [output, setOutput] = useState('')
  const [bounds, setBounds] = useState('1e-5,1e-4,1e-3')
  const list = Object.values(jobs).sort((a, b) => b.startedAt - a.startedAt)
  const defaultInput = kind === 'compress' || kind === 'sweep' ? (model?.path ?? '') : ''
  const effectiveInput = input.trim() || defaultInput

  return (
    <div>
      <section className="panel" aria-labelledby="jobs-h">
        <h2 id="jobs-h">New job</h2>
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault()
            const b = bounds
              .split(',')
              .map(Number)
              .filter((x) => Number.isFinite(x) && x > 0)
            void startJob({
              kind,
              input: effectiveInput,
              output: output.trim() || undefined,
              plan,
              bounds: kind === 'sweep' ? b : undefined,
              original: kind === 'verify' && model ? model.path : undefined,
            })
          }}
        >
          <select aria-label="Job kind" value={kind} onChange={(e) => setKind(e.target.value as JobKind)}>
            {KINDS.map((k) => (
              <option key={k.kind} value={k.kind}>
                {k.label}
              </option>
            ))}
          </select>
          <input
            aria-label="Input"
            placeholder={defaultInput || 'compressed run folder'}
            value={input}
            onChange={(e) => setInput(e.target.value)}
            style={{ flex: 1, minWidth: 240 }}
          />
          <input
            aria-label="Output folder"
            placeholder={`output (default under ${info?.workDir ?? 'the work folder'})`}
            value={output}
            onChange={(e) => setOutput(e.target.value)}
            style={{ flex: 1, minWidth: 240 }}
          />
          {kind === 'sweep' && (
            <input
              aria-label="Sweep bounds"
              value={bounds}
              onChange={(e) => setBounds(e.target.value)}
              style={{ width: 160 }}
            />
          )}
          <button type="submit" className="primary" disabled={!effectiveInput}>
            Start
          </button>
        </form>
        <p className="muted" style={{ marginBottom: 0 }}>
          Plan: {plan.mode}
          {plan.mode !== 'lossless' ? ` ${plan.bound.toExponential(2)}` : ''}
          {Object.keys(plan.groups).length > 0 ? `, ${Object.keys(plan.groups).length} group overrides` : ''} (set it in
          Tune)
        </p>
      </section>
      {list.length === 0 && <p className="muted">No jobs yet.</p>}
      {list.map((j) => (
        <JobCard key={j.jobId} job={j} />
      ))}
    </div>
  )
}
