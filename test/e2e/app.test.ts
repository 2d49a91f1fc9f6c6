// End-to-end: the real renderer in Debian's Chromium, driven through the browser bridge against the real service.
// Flows: open a generated model by path, inventory counts, a slider changes the estimate, a compression job runs to
// the end with progress, the compare view shows two variants' outputs. Each flow saves a screenshot.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { ensureRenderer } from '../../src-main/cli/commands/serve'
import { type Bridge, startBridge } from '../../src-main/core/api/bridge'
import { createShardPressService } from '../../src-main/core/api/service'
import { generateModel } from '../../src-main/core/synth'
import { repoRoot, shared, tempDir } from '../helpers/paths'

const CHROMIUM = '/usr/bin/chromium'
const shotDir = join(repoRoot, 'test-output', 'e2e')
// In CI Chromium is installed by .ci/run, so a missing browser there is a failure, not a skip.
const canRun = existsSync(CHROMIUM) || process.env.CI === 'true'

let bridge: Bridge
let browser: BrowserContext
let page: Page
let model: { dir: string; tensors: number; params: number }
const pageErrors: string[] = []

async function shot(name: string): Promise<void> {
  mkdirSync(shotDir, { recursive: true })
  await page.screenshot({ path: join(shotDir, `${name}.png`), fullPage: true })
}

async function openByPath(path: string): Promise<void> {
  await page.getByRole('button', { name: 'Open', exact: true }).first().click()
  await page.locator('#model-path').fill(path)
  await page.locator('form').getByRole('button', { name: 'Open', exact: true }).click()
}

/** Waits until a job card leaves the running state, and fails with the job's own message unless it is done. */
async function jobEnded(card: ReturnType<Page['locator']>): Promise<void> {
  await page.waitForFunction(
    (el) => el !== null && !['running', 'queued'].includes(el.getAttribute('data-state') ?? ''),
    await card.elementHandle(),
    { timeout: 120_000 },
  )
  const state = await card.getAttribute('data-state')
  assert.equal(state, 'done', (await card.textContent()) ?? '')
}

before(async () => {
  if (!canRun) return
  const work = tempDir('shardpress-e2e-')
  const rendererDir = await ensureRenderer()
  const made = await generateModel('llama', join(work, 'llama-e2e'), { scale: 0.03, seed: 11 })
  model = { dir: made.dir, tensors: made.tensors, params: made.params }
  const service = createShardPressService({ host: 'bridge', workDir: join(work, 'work'), workers: 1 })
  bridge = await startBridge({ service, rendererDir })
  // A fresh profile per run (Playwright takes the folder as launchPersistentContext's argument).
  browser = await chromium.launchPersistentContext(tempDir('shardpress-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1360, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  page = browser.pages()[0] ?? (await browser.newPage())
  page.on('pageerror', (e) => pageErrors.push(e.message))
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text())
  })
  await page.goto(bridge.url)
})

after(async () => {
  await browser?.close()
  await bridge?.close()
})

const e2e = { skip: canRun ? false : 'Chromium is not installed (apt-get install chromium)', timeout: 180_000 }

test('the page without the token is refused the API and says why', e2e, async () => {
  const other = await browser.newPage()
  await other.goto(bridge.url.replace(/\?token=.*/, ''))
  await other.getByText('Open the address').waitFor()
  await other.close()
})

test('opening a generated model by path shows its summary', e2e, async () => {
  // A drop in a browser carries no folder path: the app says so (the desktop app reads the path instead).
  const dt = await page.evaluateHandle(() => {
    const d = new DataTransfer()
    d.items.add(new File(['x'], 'config.json'))
    return d
  })
  await page.getByTestId('dropzone').dispatchEvent('drop', { dataTransfer: dt })
  await page.getByRole('alert').getByText('has no path in a browser').waitFor()
  await page.getByRole('button', { name: 'Dismiss' }).click()
  await openByPath(model.dir)
  const summary = page.getByTestId('model-summary')
  await summary.waitFor()
  assert.equal(await page.getByTestId('summary-tensors').textContent(), model.tensors.toLocaleString('en-US'))
  assert.equal(await page.getByTestId('summary-params').textContent(), model.params.toLocaleString('en-US'))
  assert.match((await summary.textContent()) ?? '', /LlamaForCausalLM/)
  assert.match((await summary.textContent()) ?? '', /BF16/)
  await shot('1-open')
})

test('the inventory shows the right counts, filters, and a tensor histogram', e2e, async () => {
  await page.getByRole('button', { name: 'Inventory' }).click()
  const count = page.getByTestId('inventory-count')
  await count.waitFor({ timeout: 60_000 })
  assert.match(
    (await count.textContent()) ?? '',
    new RegExp(`^${model.tensors} tensors · ${model.params.toLocaleString('en-US')} parameters`),
  )
  assert.equal(await page.getByTestId('inventory-shown').textContent(), `${model.tensors} shown`)
  await page.getByLabel('Filter tensors').fill('mlp_down')
  const layers = Number((await page.getByTestId('inventory-shown').textContent())?.split(' ')[0])
  assert.ok(layers >= 1 && layers < model.tensors, `filtered rows: ${layers}`)
  await page.getByLabel('Filter tensors').fill('')
  await page.locator('[data-name="model.layers.0.mlp.down_proj.weight"]').click()
  const detail = page.getByTestId('tensor-detail')
  await detail.waitFor()
  assert.match((await detail.textContent()) ?? '', /mlp_down/)
  await detail.locator('svg.recharts-surface .recharts-bar-rectangle').first().waitFor()
  // Keyboard: the arrow keys move the selection; Enter folds a group.
  await page.getByTestId('inventory-body').focus()
  await page.keyboard.press('ArrowDown')
  await page.locator('[data-name="model.layers.0.mlp.up_proj.weight"]').waitFor()
  await page.waitForFunction(() =>
    document.querySelector('[data-testid="tensor-detail"] h2')?.textContent?.includes('model.layers.0.input_layernorm'),
  )
  await page.getByLabel('Group by').selectOption('layer')
  await page.locator('[data-group="layer 0"]').waitFor()
  await page.getByTestId('inventory-body').focus()
  await page.keyboard.press('Home')
  await page.keyboard.press('Enter')
  await page.waitForFunction(() => !document.querySelector('[data-name="model.embed_tokens.weight"]'))
  await page.keyboard.press('Enter')
  await page.locator('[data-name="model.embed_tokens.weight"]').waitFor()
  // CSV export of the rows as shown.
  const [csv] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export CSV' }).click(),
  ])
  assert.match(csv.suggestedFilename(), /inventory\.csv$/)
  const csvText = readFileSync((await csv.path())!, 'utf8')
  assert.equal(csvText.trim().split('\n').length, model.tensors + 1)
  await shot('2-inventory')
})

test('moving the global bound slider changes the estimate', e2e, async () => {
  await page.getByRole('button', { name: 'Tune' }).click()
  const size = page.getByTestId('estimate-size')
  await page.waitForFunction(() => document.querySelector('[data-testid="estimate-size"]')?.textContent !== '–')
  const before = await size.textContent()
  const ratioBefore = await page.getByTestId('estimate-ratio').textContent()
  await page.getByTestId('global-slider').fill('-1.5')
  await page.waitForFunction((b) => document.querySelector('[data-testid="estimate-size"]')?.textContent !== b, before)
  const ratioAfter = await page.getByTestId('estimate-ratio').textContent()
  assert.ok(Number.parseFloat(ratioAfter!) > Number.parseFloat(ratioBefore!), `${ratioBefore} → ${ratioAfter}`)
  await page.locator('figure[aria-label="Estimated ratio vs global bound"] .recharts-line').waitFor()
  // Charts export as SVG and PNG.
  const [svg] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export Estimated ratio by group as SVG' }).click(),
  ])
  assert.equal(svg.suggestedFilename(), 'ratio-by-group.svg')
  assert.match(readFileSync((await svg.path())!, 'utf8'), /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
  const [png] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export Estimated ratio vs global bound as PNG' }).click(),
  ])
  assert.equal(png.suggestedFilename(), 'ratio-vs-bound.png')
  assert.deepEqual([...readFileSync((await png.path())!).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47])
  // Back to a moderate bound for the compression job.
  await page.getByLabel('All tensors exact bound').fill('1e-3')
  await page.getByLabel('All tensors exact bound').press('Enter')
  await shot('3-tune')
})

test('a compression job runs to the end with progress and a result', e2e, async () => {
  await page.getByRole('button', { name: 'Jobs' }).click()
  await page.getByRole('button', { name: 'Start' }).click()
  const card = page.locator('[data-testid^="job-"][data-state]').first()
  await card.waitFor()
  await jobEnded(card)
  const bytes = (await card.getByTestId('job-bytes').textContent()) ?? ''
  const [done, total] = bytes.split(' of ')
  assert.equal(done, total, bytes)
  const ratio = Number.parseFloat((await card.getByTestId('job-ratio').textContent()) ?? '')
  assert.ok(ratio > 1.5, `ratio ${ratio}`)
  await card.locator('figure[aria-label="Ratio per group"] .recharts-bar-rectangle').first().waitFor()
  await shot('4-jobs')
})

test(
  'the compare view runs one prompt on the original and a compressed run side by side, and measures them',
  e2e,
  async () => {
    await openByPath(shared('models', 'stories260K-hf'))
    await page.getByTestId('model-summary').waitFor()
    // Compress the real model with the current plan (REL 1e-3), then compare the reconstruction with the original.
    await page.getByRole('button', { name: 'Jobs' }).click()
    await page.getByRole('button', { name: 'Start' }).click()
    await page.locator('[data-testid^="job-"][data-state]').nth(1).waitFor()
    // Jobs are listed newest first.
    await jobEnded(page.locator('[data-testid^="job-"][data-state]').first())
    await page.getByRole('button', { name: 'Compare' }).click()
    await page.getByTestId('variant-run').first().waitFor()
    await page.getByTestId('variant-q8_0').uncheck()
    await page.getByTestId('variant-run').first().check()
    await page.getByTestId('variant-q4_0').check()
    await page.getByRole('button', { name: /^Run on 3 variants/ }).click()
    const columns = page.getByTestId('generations').locator('section.column')
    await page.waitForFunction(
      () =>
        document.querySelectorAll('[data-testid="generations"] section.column').length === 3 &&
        [...document.querySelectorAll('[data-testid="generations"] section.column')].every((c) =>
          c.textContent?.includes('done'),
        ),
      undefined,
      { timeout: 120_000 },
    )
    for (let i = 0; i < 3; i++) {
      const text = (await columns.nth(i).getByTestId('output').textContent()) ?? ''
      assert.ok(text.length > 'Once upon a time'.length + 10, `column ${i}: ${text}`)
    }
    assert.match(
      (await columns.nth(1).textContent()) ?? '',
      /same tokens as the first column so far|diverges at token \d+/,
    )
    await page.getByRole('button', { name: 'Measure' }).click()
    const metrics = page.getByTestId('metrics')
    await metrics.waitFor({ timeout: 120_000 })
    assert.equal(await metrics.locator('tbody tr').count(), 3)
    const firstRow = (await metrics.locator('tbody tr').first().textContent()) ?? ''
    assert.match(firstRow, /original/)
    await metrics.locator('.recharts-scatter-symbol').first().waitFor()
    await shot('5-compare')
    // The OS dark mode is followed.
    await page.emulateMedia({ colorScheme: 'dark' })
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    assert.equal(bg, 'rgb(21, 23, 27)')
    await shot('6-compare-dark')
    assert.deepEqual(pageErrors, [])
  },
)
