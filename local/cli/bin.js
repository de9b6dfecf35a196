#!/usr/bin/env node
/* global process, URL */
// `npx conveyor …`: runs local/cli/main.ts (TypeScript) on a Node that strips types (22.18+).
// If the node that started this one is older (the system's), the project's own Node 22
// (node_modules/.bin/node, from the `node` package) runs it instead.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));
const [major, minor] = process.versions.node.split('.').map(Number);
const stripsTypes = major > 22 || (major === 22 && minor >= 18);
const projectNode = path.resolve(path.dirname(main), '../../node_modules/.bin/node');

if (stripsTypes) {
  await import(main);
} else if (existsSync(projectNode)) {
  const child = spawn(projectNode, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  // Ctrl-C reaches the child through the terminal; a signal sent to this process only is passed on.
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  process.on('SIGINT', () => {});
  child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)));
} else {
  process.stderr.write(
    `conveyor needs Node.js 22.18 or later (this is ${process.version}); run npm install first\n`,
  );
  process.exit(3);
}
