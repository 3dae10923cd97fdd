#!/usr/bin/env node
// The `sockeye` command. Its code is TypeScript compiled by the repository's build, so this
// stub only checks that the build ran and hands over to it.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('sockeye: not built yet: run `npm run build` at the repository root');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
