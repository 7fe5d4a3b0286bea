#!/usr/bin/env node
// The CLI runs the compiled program (`npm run build` produces dist/) on the
// Node.js runtime that the project brings: npm scripts and npx put it first
// on PATH. An older system Node fails deep inside a dependency, so say so here.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(
    `Hookline needs Node.js 22.12 or newer; this is ${process.version}. ` +
      'Run it through npm (npm start, npx hookline …) or with node_modules/.bin/node.',
  );
  process.exit(1);
}
await import('../dist/src/main.js');
