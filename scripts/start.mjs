#!/usr/bin/env node
// `npm start`: build if needed, then start the demo. Until the demo exists (issue 6), the
// echo server stands in for it.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync(join(root, 'node_modules', '.bin', 'tsc'), ['-b'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const port = process.env.PORT ?? '8080';
console.log(`Starting the sockeye echo server. Connect with any WebSocket client, e.g.:`);
console.log(
  `  node -e "const ws=new WebSocket('ws://127.0.0.1:${port}');ws.onopen=()=>ws.send('hi');ws.onmessage=e=>{console.log(e.data);ws.close()}" --experimental-websocket`,
);
const child = spawn(
  process.execPath,
  ['--import', 'tsx', join(root, 'conformance', 'echo-server.ts'), '--port', port],
  { cwd: root, stdio: 'inherit' },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 0));
