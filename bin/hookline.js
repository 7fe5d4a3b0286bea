#!/usr/bin/env node
// The CLI runs the compiled program (`npm run build` produces dist/) on the
// Node.js runtime that the project brings: npm scripts and npx put it first on
// PATH. The program checks the Node.js version before it loads anything else.
await import('../dist/src/main.js');
