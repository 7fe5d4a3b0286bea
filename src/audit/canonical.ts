import { createHash, createHmac, hkdfSync, timingSafeEqual, type Hash } from 'node:crypto';
import { keyIdOf } from '../secrets/keyring.js';

/**
 * The canonical form of an audit entry and the HMAC chain over it.
 *
 * Canonical form: the JSON of the entry's fields below, object keys sorted
 * at every depth, no white space, times as ISO 8601 in UTC with
 * milliseconds, absent values as null:
 *
 *   {"account":…,"action":…,"actor":{"apiKeyId":…,"kind":…,"name":…,"sessionId":…},
 *    "at":…,"changes":…,"environment":…,"id":…,"target":{"id":…,"type":…}}
 *
 * The chain: hash(n) = hex(HMAC-SHA256(K, "hookline-audit-v1\n" + seq(n) +
 * "\n" + hash(n−1) + "\n" + canonical(n))), with hash(0) the empty string.
 * seq numbers a chain's entries 1, 2, 3, … without gaps, so a deleted or
 * inserted entry breaks the chain where it happened. K is derived from the
 * master key with HKDF-SHA256 (info "hookline audit log v1"); the master key
 * never reaches the database, so without it no entry can be changed, made or
 * removed and its successors re-hashed.
 *
 * Checkpoints are sealed the same way under a second derived key (info
 * "hookline audit checkpoints v1") over "hookline-audit-checkpoint-v1\n" +
 * account + "\n" + environment + "\n" + seq + "\n" + hash.
 */

export const ENTRY_DOMAIN = 'hookline-audit-v1';
export const CHECKPOINT_DOMAIN = 'hookline-audit-checkpoint-v1';

export interface CanonicalEntry {
  id: string;
  accountId: string;
  environment: string;
  at: Date;
  actorKind: string;
  actorApiKeyId: string | null;
  actorSessionId: string | null;
  actorName: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  changes: Record<string, unknown> | null;
}

/** JSON with object keys sorted at every depth; undefined members are left out, as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const members = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${members.join(',')}}`;
}

/** The entry as the object whose canonical JSON is hashed and exported. */
export function canonicalObject(entry: CanonicalEntry): Record<string, unknown> {
  return {
    account: entry.accountId,
    action: entry.action,
    actor: { apiKeyId: entry.actorApiKeyId, kind: entry.actorKind, name: entry.actorName, sessionId: entry.actorSessionId },
    at: entry.at.toISOString(),
    changes: entry.changes,
    environment: entry.environment,
    id: entry.id,
    target: { id: entry.targetId, type: entry.targetType },
  };
}

export function canonicalForm(entry: CanonicalEntry): string {
  return canonicalJson(canonicalObject(entry));
}

/** What the chain HMAC covers: the entry's place, its predecessor's hash and its canonical form. */
export function chainMessage(seq: number, previousHash: string, canonical: string): string {
  return `${ENTRY_DOMAIN}\n${seq}\n${previousHash}\n${canonical}`;
}

export function checkpointMessage(accountId: string, environment: string, seq: number, hash: string): string {
  return `${CHECKPOINT_DOMAIN}\n${accountId}\n${environment}\n${seq}\n${hash}`;
}

/** The two keys the audit log uses, derived from one master key, and the id of that master key. */
export interface AuditKeys {
  /** Hex id of the master key (src/secrets/keyring.ts keyIdOf): which key made a hash. */
  keyId: string;
  entry: Buffer;
  checkpoint: Buffer;
}

export function deriveAuditKeys(masterKey: Buffer): AuditKeys {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), info, 32));
  return {
    keyId: keyIdOf(masterKey).toString('hex'),
    entry: derive('hookline audit log v1'),
    checkpoint: derive('hookline audit checkpoints v1'),
  };
}

export function hmacHex(key: Buffer, message: string): string {
  return createHmac('sha256', key).update(message, 'utf8').digest('hex');
}

/**
 * HMAC-SHA256 under one key for many messages: the hash states after the
 * inner and outer key blocks are computed once and copied per message,
 * which is several times faster than createHmac per entry when a long
 * chain is verified. Same result as hmacHex.
 */
export class Hmac {
  private readonly inner: Hash;
  private readonly outer: Hash;

  constructor(key: Buffer) {
    const pads = hmacPads(key);
    this.inner = createHash('sha256').update(pads.inner);
    this.outer = createHash('sha256').update(pads.outer);
  }

  hex(message: string): string {
    return this.outer.copy().update(this.inner.copy().update(message, 'utf8').digest()).digest('hex');
  }
}

/**
 * The inner and outer blocks of HMAC-SHA256 (RFC 2104) for a key of at most
 * 64 bytes, so that the database computes the same HMAC with its built-in
 * sha256() inside the statement that appends an entry: the entry's hash
 * depends on the predecessor that the same statement locks.
 */
export function hmacPads(key: Buffer): { inner: Buffer; outer: Buffer } {
  if (key.length > 64) throw new RangeError('the HMAC key must be at most one block');
  const block = Buffer.alloc(64);
  key.copy(block);
  return { inner: Buffer.from(block.map((b) => b ^ 0x36)), outer: Buffer.from(block.map((b) => b ^ 0x5c)) };
}

export function hexEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
