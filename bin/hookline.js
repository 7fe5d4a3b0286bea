#!/usr/bin/env node
// The CLI runs the compiled program; `npm run build` produces dist/.
import '../dist/src/main.js';
