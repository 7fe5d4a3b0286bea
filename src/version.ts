import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The package version, from the nearest package.json above this file (src/ in tests, dist/src/ when built). */
function readVersion(): string {
  let dir = import.meta.dirname;
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'hookline' && pkg.version) return pkg.version;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return '0.0.0';
    dir = parent;
  }
}

export const VERSION = readVersion();

/** Sent with every delivery. */
export const USER_AGENT = `Hookline/${VERSION}`;
