// Text-overlap and summary statistics used to compare generations and distributions, on hand-worked examples.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { bleu, firstDivergence, lcsLength, meanWithError, percentile, rougeL } from '../../src-main/core/eval'

const w = (s: string) => s.split(' ')

test('ROUGE-L is the F1 of the longest common subsequence', () => {
  assert.equal(lcsLength(w('a b c d e'), w('a x c y e')), 3)
  // LCS "the cat the mat" = 4 of 6 candidate words and 4 of 5 reference words → F1 = 2·(4/6)(4/5)/(4/6+4/5)
  const r = rougeL(w('the cat sat on the mat'), w('the cat on the mat'))
  assert.ok(Math.abs(r - (2 * (5 / 6) * (5 / 5)) / (5 / 6 + 5 / 5)) < 1e-12)
  assert.equal(rougeL(w('a b'), w('c d')), 0)
  assert.equal(rougeL(w('a b c'), w('a b c')), 1)
})

test('BLEU-4 with add-one smoothing and brevity penalty', () => {
  assert.equal(bleu(w('a b c d e'), w('a b c d e')), 1)
  assert.equal(bleu(w('x y z'), w('a b c')), 0) // no unigram matches
  // candidate "a b c x" vs reference "a b c d": p1 = 3/4, p2 = (2+1)/(3+1), p3 = (1+1)/(2+1), p4 = (0+1)/(1+1), BP 1
  const want = Math.exp((Math.log(3 / 4) + Math.log(3 / 4) + Math.log(2 / 3) + Math.log(1 / 2)) / 4)
  assert.ok(Math.abs(bleu(w('a b c x'), w('a b c d')) - want) < 1e-12)
  // A shorter candidate pays the brevity penalty exp(1 − r/c).
  const short = bleu(w('a b c'), w('a b c d e f'))
  const p = Math.exp((Math.log(1) + Math.log(3 / 3) + Math.log(2 / 2) + Math.log(1 / 1)) / 4)
  assert.ok(Math.abs(short - Math.exp(1 - 6 / 3) * p) < 1e-12)
})

test('first divergent token, mean with standard error, interpolated percentiles', () => {
  assert.equal(firstDivergence([1, 2, 3], [1, 2, 3]), -1)
  assert.equal(firstDivergence([1, 2, 3], [1, 5, 3]), 1)
  assert.equal(firstDivergence([1, 2], [1, 2, 3]), 2)
  const m = meanWithError([1, 2, 3, 4])
  assert.equal(m.mean, 2.5)
  assert.ok(Math.abs(m.stderr - Math.sqrt(1.25 / 3)) < 1e-12)
  assert.equal(percentile([0, 10, 20, 30], 0.5), 15)
  assert.ok(Math.abs(percentile([0, 10, 20, 30], 0.99) - 29.7) < 1e-12)
})
