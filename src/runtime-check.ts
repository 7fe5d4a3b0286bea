// Imported first by the CLI, before any dependency is evaluated: on an older
// Node.js (the system one, when dist/src/main.js is run directly) a dependency
// would fail deep inside with a stack trace instead. Only Node built-ins here.
import { readFileSync } from 'node:fs';

/** The lowest Node.js version that package.json's `engines.node` (`>=x.y.z`) allows. */
export function requiredNodeVersion(): string {
  let dir = new URL('.', import.meta.url);
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; engines?: { node?: string } };
      const minimum = pkg.name === 'hookline' ? /^>=\s*(\d+\.\d+\.\d+)$/.exec(pkg.engines?.node ?? '')?.[1] : undefined;
      if (minimum) return minimum;
    } catch {
      // not this folder: look one up
    }
    dir = new URL('..', dir);
  }
  throw new Error('package.json with engines.node ">=x.y.z" not found');
}

export function isOlder(version: string, minimum: string): boolean {
  const a = version.replace(/^v/, '').split('.').map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  return false;
}

const minimum = requiredNodeVersion();
if (isOlder(process.versions.node, minimum)) {
  console.error(
    `Hookline needs Node.js ${minimum} or newer; this is v${process.versions.node} (${process.execPath}). ` +
      'Run it through npm (npm start, npx hookline …), which use the Node.js the project installs, or with node_modules/.bin/node.',
  );
  process.exit(1);
}
