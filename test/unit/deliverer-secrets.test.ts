import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { Deliverer, type DelivererDeps } from '../../src/delivery-engine/deliverer.js';
import { encryptSecret, generateSecret } from '../../src/secrets/crypto.js';
import { SecretService, type StoredSecret } from '../../src/secrets/service.js';
import { newId } from '../../src/ids.js';

/** A claim brings its endpoints' stored secrets; the deliverer opens them without a read of its own. */
describe('Deliverer.openSecrets', () => {
  const masterKey = randomBytes(32);
  // Opening a stored secret needs the master key only, never the database.
  const secrets = new SecretService(undefined as unknown as DataSource, masterKey);
  const deliverer = new Deliverer({ secrets } as unknown as DelivererDeps);
  const stored = (subscriptionId: string, secret: string, key = masterKey): StoredSecret => ({
    id: newId(),
    subscription_id: subscriptionId,
    ciphertext: encryptSecret(key, secret, subscriptionId),
  });

  it('opens the secrets of each endpoint in the order given, and fails only the endpoint whose secret does not open', () => {
    const [a, b, c] = [newId(), newId(), newId()];
    const [newest, older] = [generateSecret(), generateSecret()];
    const opened = deliverer.openSecrets(
      new Map([
        [a, [stored(a, newest), stored(a, older)]],
        [b, [stored(b, generateSecret(), randomBytes(32))]],
        [c, []],
      ]),
    );
    expect(opened.get(a)).toEqual([newest, older]);
    expect(opened.get(b)).toBeInstanceOf(Error);
    expect((opened.get(b) as Error).message).toMatch(/cannot be decrypted with the configured master keys/);
    expect((opened.get(b) as Error).message).not.toContain(masterKey.toString('base64'));
    expect(opened.get(c)).toEqual([]);
  });

  it('does not open a secret sealed for another subscription', () => {
    const [a, other] = [newId(), newId()];
    const moved = { ...stored(other, generateSecret()), subscription_id: a };
    expect(deliverer.openSecrets(new Map([[a, [moved]]])).get(a)).toBeInstanceOf(Error);
  });
});
