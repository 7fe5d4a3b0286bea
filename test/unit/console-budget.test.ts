import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { consoleDirectory } from '../../src/http/console.js';

/** The most JavaScript, gzipped, that the console may ship (docs/console.md: "Why this stack"). */
const JS_BUDGET_BYTES = 100 * 1024;

describe('the built console', () => {
  it(`ships at most ${JS_BUDGET_BYTES / 1024} KiB of gzipped JavaScript, all of it served from /console/assets`, async () => {
    const dir = consoleDirectory();
    const files = await readdir(path.join(dir, 'assets')).catch(() => {
      throw new Error(`${dir} has no assets: run \`npm run build\` first`);
    });
    const scripts = files.filter((f) => f.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(0);
    let total = 0;
    for (const file of scripts) total += gzipSync(await readFile(path.join(dir, 'assets', file)), { level: 9 }).length;
    expect(total).toBeLessThanOrEqual(JS_BUDGET_BYTES);

    const html = await readFile(path.join(dir, 'index.html'), 'utf8');
    const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(references.length).toBeGreaterThan(0);
    expect(references.filter((r) => !r.startsWith('/console/assets/'))).toEqual([]);
  });
});
