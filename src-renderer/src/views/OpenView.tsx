// Open: drop a folder or file (desktop), type a path, pick a recent model, or generate the built-in model;
// then the model's summary (architecture, parameters, bytes by dtype, shards).
import { type DragEvent, useState } from 'react'
import { desktopShell } from '../api'
import { formatBytes, formatCount } from '../format'
import { useApp } from '../useApp'

export function OpenView() {
  const model = useApp((s) => s.model)
  const recent = useApp((s) => s.recent)
  const openModel = useApp((s) => s.openModel)
  const generateModel = useApp((s) => s.generateModel)
  const setError = useApp((s) => s.setError)
  const busy = useApp((s) => s.busy)
  const [path, setPath] = useState('')
  const [over, setOver] = useState(false)
  const shell = desktopShell()

  const onDrop = (e: DragEvent) => {
    e.preventDefault()
    // Handled here; the window-wide handler must not open it a second time.
    e.stopPropagation()
    setOver(false)
    const file = e.dataTransfer.files[0]
    if (!file) return
    const p = shell?.pathForFile(file) ?? ''
    if (p) void openModel(p)
    else setError('A dropped folder has no path in a browser: type its path below (the desktop app takes drops).')
  }

  return (
    <div>
      <section className="panel" aria-labelledby="open-h">
        <h2 id="open-h">Open a model</h2>
        {/* biome-ignore lint/a11y/noStaticElementInteractions: a drop target; the path field and button below are the keyboard route */}
        <div
          className={`dropzone${over ? ' over' : ''}`}
          data-testid="dropzone"
          onDragOver={(e) => {
            e.preventDefault()
            setOver(true)
          }}
          onDragLeave={() => setOver(false)}
          onDrop={onDrop}
        >
          Drop a model folder, a .safetensors file or a model.safetensors.index.json here
          {shell && (
            <div style={{ marginTop: 10 }}>
              <button
                type="button"
                onClick={async () => {
                  const p = await shell.pickFolder()
                  if (p) void openModel(p)
                }}
              >
                Choose folder…
              </button>
            </div>
          )}
        </div>
        <form
          className="row"
          style={{ marginTop: 12 }}
          onSubmit={(e) => {
            e.preventDefault()
            if (path.trim()) void openModel(path)
          }}
        >
          <label htmlFor="model-path">Path</label>
          <input
            id="model-path"
            style={{ flex: 1, minWidth: 300 }}
            value={path}
            placeholder="/path/to/model-folder"
            onChange={(e) => setPath(e.target.value)}
          />
          <button type="submit" className="primary" disabled={!path.trim() || busy !== null}>
            Open
          </button>
          <button type="button" disabled={busy !== null} onClick={() => void generateModel('llama')}>
            Generate the built-in model
          </button>
        </form>
      </section>

      {recent.length > 0 && (
        <section className="panel" aria-labelledby="recent-h">
          <h2 id="recent-h">Recent models</h2>
          <ul style={{ margin: 0, paddingLeft: 18 }}>
            {recent.map((r) => (
              <li key={r.path}>
                <button type="button" className="linklike" onClick={() => void openModel(r.path)}>
                  {r.name}
                </button>{' '}
                <span className="muted">{r.path}</span>
              </li>
            ))}
          </ul>
        </section>
      )}

      {model && (
        <section className="panel" aria-labelledby="summary-h" data-testid="model-summary">
          <h2 id="summary-h">{model.name}</h2>
          <div className="figures" style={{ marginBottom: 12 }}>
            <div>
              <div className="figure" data-testid="summary-tensors">
                {formatCount(model.tensorCount)}
              </div>
              <div className="muted">tensors</div>
            </div>
            <div>
              <div className="figure" data-testid="summary-params">
                {formatCount(model.parameters)}
              </div>
              <div className="muted">parameters</div>
            </div>
            <div>
              <div className="figure">{formatBytes(model.bytes)}</div>
              <div className="muted">on disk</div>
            </div>
            <div>
              <div className="figure">{model.shards.length}</div>
              <div className="muted">shards</div>
            </div>
          </div>
          <div className="grid2">
            <table className="kv">
              <tbody>
                <tr>
                  <td className="muted">Architecture</td>
                  <td>{model.architecture ?? 'unknown'}</td>
                </tr>
                <tr>
                  <td className="muted">Model type</td>
                  <td>{model.modelType ?? 'unknown'}</td>
                </tr>
                <tr>
                  <td className="muted">Tokenizer</td>
                  <td>{model.hasTokenizer ? 'present' : 'none'}</td>
                </tr>
                {Object.entries(model.config).map(([k, v]) => (
                  <tr key={k}>
                    <td className="muted">{k}</td>
                    <td>{String(v)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <div>
              <table className="plain" aria-label="Bytes by dtype">
                <thead>
                  <tr>
                    <th>dtype</th>
                    <th className="num">tensors</th>
                    <th className="num">parameters</th>
                    <th className="num">bytes</th>
                  </tr>
                </thead>
                <tbody>
                  {model.byDtype.map((d) => (
                    <tr key={d.dtype}>
                      <td>{d.dtype}</td>
                      <td className="num">{formatCount(d.tensors)}</td>
                      <td className="num">{formatCount(d.params)}</td>
                      <td className="num">{formatBytes(d.bytes)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <table className="plain" aria-label="Shards" style={{ marginTop: 12 }}>
                <thead>
                  <tr>
                    <th>shard</th>
                    <th className="num">tensors</th>
                    <th className="num">bytes</th>
                  </tr>
                </thead>
                <tbody>
                  {model.shards.map((s) => (
                    <tr key={s.file}>
                      <td>{s.file}</td>
                      <td className="num">{formatCount(s.tensors)}</td>
                      <td className="num">{formatBytes(s.bytes)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </div>
        </section>
      )}
    </div>
  )
}
