#!/usr/bin/env bash
# Electron security lint: runs @doyensec/electronegativity over the desktop shell (main process, preload and the
# renderer's HTML with its CSP) and fails on any HIGH-severity finding. Offline: the tool's two network look-ups
# (translations, Electron release list) are skipped or neutralised so CI never depends on them.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
app="$work/app"
mkdir -p "$app/src-main" "$app/src-renderer"
# Only the files Electron runs; node_modules and core/ (plain Node, never in the renderer) are out of scope.
cp -r src-main/electron "$app/src-main/"
cp -r src-preload "$app/"
cp src-renderer/index.html "$app/src-renderer/"
cp package.json "$app/"

# The CLI fetches translations at start; when that request times out, a retry timer in its HTTP library throws
# an uncaught "onCancel handler was attached after the promise settled". Ignore exactly that error.
cat > "$work/run.cjs" <<'JS'
process.on('uncaughtException', (err) => {
  if (err && /onCancel. handler was attached after the promise settled/.test(err.message)) return
  console.error(err)
  process.exit(2)
})
require(require.resolve('@doyensec/electronegativity/dist/index.js', { paths: [process.cwd()] }))
JS

electron_version=$(node -p "require('electron/package.json').version")
LANG=en-US node "$work/run.cjs" -i "$app" -r -v false -o "$work/findings.csv" \
  -e "$electron_version" -x AvailableSecurityFixesGlobalCheck >"$work/log.txt" 2>&1 || true

if [ ! -s "$work/findings.csv" ]; then
  echo "electronegativity produced no report:"
  cat "$work/log.txt"
  exit 1
fi

# Parse the CSV properly (the sample column holds commas and quotes) and fail on HIGH severity.
node - "$work/findings.csv" "$electron_version" <<'JS'
const text = require('node:fs').readFileSync(process.argv[2], 'utf8')
const rows = []
let row = [], cell = '', quoted = false
for (let i = 0; i < text.length; i++) {
  const c = text[i]
  if (quoted) {
    if (c === '"' && text[i + 1] === '"') { cell += '"'; i++ } else if (c === '"') quoted = false
    else cell += c
  } else if (c === '"') quoted = true
  else if (c === ',') { row.push(cell.trim()); cell = '' }
  else if (c === '\n') { row.push(cell.trim()); rows.push(row); row = []; cell = '' }
  else if (c !== '\r') cell += c
}
if (cell || row.length) { row.push(cell.trim()); rows.push(row) }
const findings = rows.slice(1).filter((r) => r.length >= 5)
console.log(`electronegativity: ${findings.length} finding(s) on Electron ${process.argv[3]}`)
for (const [issue, severity, confidence, file, location] of findings)
  console.log(`  ${severity.padEnd(13)} ${confidence.padEnd(10)} ${issue.padEnd(32)} ${file}:${location}`)
const high = findings.filter((r) => r[1] === 'HIGH')
if (high.length > 0) {
  console.log(`FAIL: ${high.length} HIGH-severity finding(s).`)
  process.exit(1)
}
console.log('OK: no HIGH-severity findings.')
JS
