// Saving files from the renderer (CSV, JSON, chart images) the same way in Electron and in a browser.
export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = fileName
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

export const saveText = (text: string, fileName: string, type = 'text/csv'): void =>
  saveBlob(new Blob([text], { type }), fileName)

function svgText(svg: SVGSVGElement): string {
  const clone = svg.cloneNode(true) as SVGSVGElement
  clone.setAttribute('xmlns', 'http://www.w3.org/2000/svg')
  // Charts draw with the page's colours; give the file concrete ones. Presentation attributes, not a style
  // attribute: the app's CSP forbids inline styles.
  const { color, backgroundColor } = getComputedStyle(document.body)
  clone.setAttribute('color', color)
  clone.setAttribute('font-family', 'sans-serif')
  const bg = document.createElementNS('http://www.w3.org/2000/svg', 'rect')
  bg.setAttribute('width', '100%')
  bg.setAttribute('height', '100%')
  bg.setAttribute('fill', backgroundColor)
  clone.insertBefore(bg, clone.firstChild)
  return new XMLSerializer().serializeToString(clone)
}

export function saveSvg(svg: SVGSVGElement, fileName: string): void {
  saveBlob(new Blob([svgText(svg)], { type: 'image/svg+xml' }), fileName)
}

export async function savePng(svg: SVGSVGElement, fileName: string): Promise<void> {
  const { width, height } = svg.getBoundingClientRect()
  const url = URL.createObjectURL(new Blob([svgText(svg)], { type: 'image/svg+xml' }))
  try {
    const img = new Image()
    await new Promise<void>((resolve, reject) => {
      img.onload = () => resolve()
      img.onerror = () => reject(new Error('The chart could not be drawn as an image.'))
      img.src = url
    })
    const canvas = document.createElement('canvas')
    canvas.width = Math.ceil(width * 2)
    canvas.height = Math.ceil(height * 2)
    const ctx = canvas.getContext('2d')
    if (!ctx) throw new Error('No 2D canvas available.')
    ctx.fillStyle = getComputedStyle(document.body).backgroundColor
    ctx.fillRect(0, 0, canvas.width, canvas.height)
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height)
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'))
    if (blob) saveBlob(blob, fileName)
  } finally {
    URL.revokeObjectURL(url)
  }
}
