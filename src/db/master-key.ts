import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { ConfigError } from '../config.js';
import { Keyring } from '../secrets/keyring.js';

const KEY_FILE = 'master.key';

/**
 * The keys that encrypt signing secrets and header values at rest:
 * HOOKLINE_MASTER_KEY and HOOKLINE_MASTER_KEY_PREVIOUS. Only with the
 * embedded database (no DATABASE_URL, which loadConfig enforces) is a key
 * generated, once, into the data directory, so that a restarted
 * development server can still read its secrets.
 */
export async function resolveMasterKey(config: Config): Promise<Keyring> {
  return new Keyring(await currentKey(config), config.previousMasterKeys);
}

async function currentKey(config: Config): Promise<Buffer> {
  if (config.masterKey) return config.masterKey;
  if (config.databaseUrl) throw new ConfigError('HOOKLINE_MASTER_KEY', 'is required when DATABASE_URL is set');
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
