#!/usr/bin/env node
// The `shardpress` command: runs the TypeScript CLI through tsx's register API (no build step needed).
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src-main/cli/main.ts')
await main()
