// A chart with a title and PNG/SVG export buttons; the chart itself is any recharts element given as children.
import { type ReactNode, useRef } from 'react'
import { savePng, saveSvg } from '../download'

export function ChartFrame(props: { title: string; fileName: string; height?: number; children: ReactNode }) {
  const ref = useRef<HTMLDivElement>(null)
  const svg = () => ref.current?.querySelector('svg.recharts-surface') as SVGSVGElement | null
  return (
    <figure className="chart" style={{ margin: 0 }} aria-label={props.title}>
      <figcaption className="muted">{props.title}</figcaption>
      <div className="export">
        <button
          type="button"
          aria-label={`Export ${props.title} as SVG`}
          onClick={() => {
            const s = svg()
            if (s) saveSvg(s, `${props.fileName}.svg`)
          }}
        >
          SVG
        </button>
        <button
          type="button"
          aria-label={`Export ${props.title} as PNG`}
          onClick={() => {
            const s = svg()
            if (s) void savePng(s, `${props.fileName}.png`)
          }}
        >
          PNG
        </button>
      </div>
      <div ref={ref} style={{ width: '100%', height: props.height ?? 240 }}>
        {props.children}
      </div>
    </figure>
  )
}
