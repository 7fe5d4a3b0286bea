import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** The console is built into dist/console and served by Hookline under /console/. */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // The server sends no source maps, and they would count against nothing the browser runs.
    sourcemap: false,
  },
});
