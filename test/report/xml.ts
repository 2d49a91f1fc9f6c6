// A small well-formedness check for the SVG and HTML we generate ourselves (no XML parser in Node).
import assert from 'node:assert/strict'

/** Checks that every tag is closed in order and attributes are quoted; & only starts a known entity. */
export function assertWellFormedXml(xml: string): void {
  const stack: string[] = []
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<(?!\/?[a-zA-Z])/g
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    assert.ok(m[2], `stray '<' at ${m.index}: ${xml.slice(m.index, m.index + 40)}`)
    if (m[1]) assert.equal(stack.pop(), m[2], `closing </${m[2]}> at ${m.index}`)
    else if (!m[4]) stack.push(m[2]!)
  }
  assert.deepEqual(stack, [], 'unclosed tags')
  assert.ok(!/&(?!(lt|gt|amp|quot|apos);)/.test(xml), 'unescaped &')
}
