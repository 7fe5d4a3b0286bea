import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { ConfigError } from '../config.js';

const KEY_FILE = 'master.key';

/**
 * The key that encrypts signing secrets at rest. Production sets
 * HOOKLINE_MASTER_KEY; elsewhere a key is generated once into the data
 * directory so that a restarted development server can still read its
 * secrets.
 */
export async function resolveMasterKey(config: Config): Promise<Buffer> {
  if (config.masterKey) return config.masterKey;
  const file = path.resolve(config.dataDir, KEY_FILE);
  try {
    const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
    if (key.length !== 32) throw new ConfigError('HOOKLINE_MASTER_KEY', `is unset and ${file} does not hold 32 bytes of base64`);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}
