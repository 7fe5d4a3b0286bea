import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * The master keys that seal secrets at rest (AES-256-GCM): the current one,
 * which seals, and previous ones, which only open, so that
 * HOOKLINE_MASTER_KEY can be rotated without losing a stored secret.
 *
 * Sealed layout: version byte 0x01, key id (8 bytes), nonce (12), tag (16),
 * ciphertext. The key id is the first 8 bytes of SHA-256 of the key: it
 * names the key that sealed a value without revealing it, so that a value
 * sealed under an old key can be found and sealed again. The earlier layout
 * (nonce, tag, ciphertext, no key id) still opens, under any of the keys.
 */

const VERSION = 0x01;
const KEY_ID_BYTES = 8;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES;

export const MASTER_KEY_BYTES = 32;

export function keyIdOf(key: Buffer): Buffer {
  return createHash('sha256').update(key).digest().subarray(0, KEY_ID_BYTES);
}

export class Keyring {
  readonly current: Buffer;
  readonly currentId: Buffer;
  /** Every key by its id (hex), the current one first. */
  private readonly byId = new Map<string, Buffer>();

  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    for (const key of [current, ...previous]) {
      if (key.length !== MASTER_KEY_BYTES) throw new RangeError(`a master key is ${MASTER_KEY_BYTES} bytes`);
      const id = keyIdOf(key).toString('hex');
      if (!this.byId.has(id)) this.byId.set(id, key);
    }
    this.current = current;
    this.currentId = keyIdOf(current);
  }

  /** Hex ids of the keys, the current one first: safe to log. */
  get keyIds(): string[] {
    return [...this.byId.keys()];
  }

  /** Every key, the current one first: for what is keyed from the master key but not sealed, e.g. the audit log's HMACs. */
  get keys(): Buffer[] {
    return [...this.byId.values()];
  }

  seal(plaintext: string, additionalData: Buffer): Buffer {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current, nonce);
    cipher.setAAD(additionalData);
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.of(VERSION), this.currentId, nonce, cipher.getAuthTag(), ciphertext]);
  }

  /** The plaintext back; throws when no key of the ring, or not this additional data, sealed it. */
  open(sealed: Buffer, additionalData: Buffer): string {
    const named = this.namedKey(sealed);
    if (named) {
      const opened = tryOpen(named, sealed.subarray(HEADER_BYTES), additionalData);
      if (opened !== undefined) return opened;
    }
    if (sealed.length <= NONCE_BYTES + TAG_BYTES) throw new Error('sealed value is truncated');
    // The layout without a key id: try each key; GCM's tag tells the right one.
    for (const key of this.byId.values()) {
      const opened = tryOpen(key, sealed, additionalData);
      if (opened !== undefined) return opened;
    }
    throw new Error('sealed value does not open with any configured master key');
  }

  /** True when the value is in the current layout under the current key: nothing to re-seal. */
  isCurrent(sealed: Buffer): boolean {
    return sealed.length > HEADER_BYTES + NONCE_BYTES + TAG_BYTES && sealed[0] === VERSION && sealed.subarray(1, HEADER_BYTES).equals(this.currentId);
  }

  private namedKey(sealed: Buffer): Buffer | undefined {
    if (sealed.length <= HEADER_BYTES + NONCE_BYTES + TAG_BYTES || sealed[0] !== VERSION) return undefined;
    return this.byId.get(sealed.subarray(1, HEADER_BYTES).toString('hex'));
  }
}

function tryOpen(key: Buffer, body: Buffer, additionalData: Buffer): string | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, NONCE_BYTES));
    decipher.setAAD(additionalData);
    decipher.setAuthTag(body.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(NONCE_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
