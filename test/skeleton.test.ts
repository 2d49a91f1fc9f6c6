import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { shared } from './helpers/paths'

test('the shared stories260K model is reachable from tests', () => {
  assert.ok(existsSync(shared('models', 'stories260K-hf', 'model.safetensors')))
})
