// core/report: a results folder's report (Markdown + self-contained HTML) with SVG charts drawn by our own code.
export { type ReportFiles, type ReportInput, writeReport } from './report'
export { type BarChart, barChartSvg, escapeXml, type LineChart, lineChartSvg, PALETTE, type Series } from './svg'
