import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { Principal } from '../accounts/service.js';
import { AUDIT_ACTIONS, AuditActorKind, actorOf } from '../audit/actions.js';
import type { AuditService } from '../audit/service.js';
import { hashesEqual, hashToken } from '../accounts/tokens.js';
import { Role } from '../domain.js';
import { AppError, InputError } from '../errors.js';
import { newId } from '../ids.js';
import { ConsoleSessionEntity, PortalLinkEntity } from './entities.js';
import { portalSigningKey, signLink, verifyLink } from './link-token.js';

export const MIN_LINK_SECONDS = 60;
export const MAX_LINK_SECONDS = 86_400;
/** How long a browser stays signed in after opening a link: a working session, not the link's lifetime. */
export const SESSION_SECONDS = 4 * 3600;
/** Console session tokens are told apart from API keys (hkl_) by this prefix. */
export const SESSION_TOKEN_PREFIX = 'hkc_';
/** Where the console serves portal links; the link token is the last path segment. */
export const PORTAL_PATH = '/console/portal/';

export type LinkRefusal = 'invalid' | 'expired' | 'used';

export type OpenedLink = { ok: true; sessionToken: string; expiresAt: Date; readOnly: boolean } | { ok: false; reason: LinkRefusal };

/** What a link would open, read without using it up. */
export type InspectedLink = { ok: true; expiresAt: Date; readOnly: boolean } | { ok: false; reason: LinkRefusal };

/** Rows deleted per statement by the background purge, so that each stays short. */
const PURGE_BATCH = 1_000;

export function isConsoleSessionToken(token: string): boolean {
  return token.startsWith(SESSION_TOKEN_PREFIX);
}

/**
 * Portal links and the console sessions they open. A link is signed,
 * short-lived and single-use; the session it opens is bound to the link's
 * account and environment, has the role ADMIN (VIEWER for a read-only link)
 * and ends when it expires or when the key that made the link is revoked.
 */
export class PortalService {
  private readonly signingKey: Buffer;

  constructor(
    private readonly db: DataSource,
    masterKey: Buffer,
    private readonly audit: AuditService,
  ) {
    this.signingKey = portalSigningKey(masterKey);
  }

  /** A link for the caller's account and environment; `origin` is where this server is reached, e.g. https://hooks.example.com. */
  async createLink(
    caller: Principal,
    input: { expiresInSeconds: number; readOnly: boolean },
    origin: string,
  ): Promise<{ url: string; expiresAt: Date }> {
    if (caller.consoleSessionId || caller.accountId === null || caller.role !== Role.ADMIN) {
      throw new AppError('FORBIDDEN', 'Portal links are made with an ADMIN API key of the account');
    }
    const seconds = input.expiresInSeconds;
    if (!Number.isInteger(seconds) || seconds < MIN_LINK_SECONDS || seconds > MAX_LINK_SECONDS) {
      throw InputError.field('expiresInSeconds', `must be between ${MIN_LINK_SECONDS} and ${MAX_LINK_SECONDS} seconds`);
    }
    // Whole seconds: the signed expiry and the stored one are the same instant.
    const expiresAtSeconds = Math.floor(Date.now() / 1000) + seconds;
    const expiresAt = new Date(expiresAtSeconds * 1000);
    const link = this.db.getRepository(PortalLinkEntity).create({
      id: newId(),
      accountId: caller.accountId,
      environment: caller.environment,
      readOnly: input.readOnly,
      apiKeyId: caller.apiKeyId,
      expiresAt,
      usedAt: null,
    });
    await this.db.transaction(async (manager) => {
      await manager.getRepository(PortalLinkEntity).insert(link);
      await this.audit.record(manager, { accountId: link.accountId, environment: link.environment }, actorOf(caller), {
        action: AUDIT_ACTIONS.portalSessionCreated,
        targetType: 'portal_link',
        targetId: link.id,
        changes: { readOnly: link.readOnly, expiresAt: expiresAt.toISOString() },
      });
    });
    const token = signLink(this.signingKey, {
      linkId: link.id,
      accountId: link.accountId,
      environment: link.environment,
      readOnly: link.readOnly,
      expiresAt: expiresAtSeconds,
    });
    return { url: `${origin.replace(/\/+$/, '')}${PORTAL_PATH}${token}`, expiresAt };
  }

  /**
   * What a link would open, without using it up or starting a session: the
   * page a GET of the link shows. Mail scanners and link previews fetch
   * links; only the person's POST (openLink) may use it.
   */
  async inspectLink(token: string): Promise<InspectedLink> {
    const check = verifyLink(this.signingKey, token, Date.now() / 1000);
    if (!check.ok) return check;
    const { claims } = check;
    const [row] = (await this.db.query(
      `SELECT l.used_at, l.expires_at, l.read_only, k.revoked_at
       FROM portal_links l JOIN api_keys k ON k.id = l.api_key_id
       WHERE l.id = $1 AND l.account_id = $2 AND l.environment = $3`,
      [claims.linkId, claims.accountId, claims.environment],
    )) as Array<{ used_at: Date | null; expires_at: Date; read_only: boolean; revoked_at: Date | null }>;
    if (!row || row.revoked_at) return { ok: false, reason: 'invalid' };
    if (row.used_at) return { ok: false, reason: 'used' };
    if (row.expires_at.getTime() <= Date.now()) return { ok: false, reason: 'expired' };
    return { ok: true, expiresAt: row.expires_at, readOnly: row.read_only };
  }

  /**
   * Opens a link: checks its signature and expiry, marks it used and starts
   * a console session, in one transaction so that two browsers opening the
   * same link at once get one session between them.
   */
  async openLink(token: string): Promise<OpenedLink> {
    const check = verifyLink(this.signingKey, token, Date.now() / 1000);
    if (!check.ok) return check;
    const { claims } = check;
    return this.db.transaction(async (manager) => {
      const used = (await manager.query(
        `UPDATE portal_links l SET used_at = now()
         FROM api_keys k
         WHERE l.id = $1 AND l.account_id = $2 AND l.environment = $3
           AND k.id = l.api_key_id AND k.revoked_at IS NULL
           AND l.used_at IS NULL AND l.expires_at > now()
         RETURNING l.id, l.read_only, l.api_key_id`,
        [claims.linkId, claims.accountId, claims.environment],
      )) as [Array<{ id: string; read_only: boolean; api_key_id: string }>, number];
      const link = used[0][0];
      if (!link) {
        const row = await manager.getRepository(PortalLinkEntity).findOneBy({ id: claims.linkId });
        if (!row) return { ok: false, reason: 'invalid' } as const;
        if (row.usedAt) return { ok: false, reason: 'used' } as const;
        if (row.expiresAt.getTime() <= Date.now()) return { ok: false, reason: 'expired' } as const;
        // The key that made the link was revoked.
        return { ok: false, reason: 'invalid' } as const;
      }
      const sessionToken = SESSION_TOKEN_PREFIX + randomBytes(32).toString('base64url');
      const expiresAt = new Date(Date.now() + SESSION_SECONDS * 1000);
      const sessionId = newId();
      await manager.getRepository(ConsoleSessionEntity).insert({
        id: sessionId,
        tokenHash: hashToken(sessionToken),
        portalLinkId: link.id,
        accountId: claims.accountId,
        environment: claims.environment,
        role: link.read_only ? Role.VIEWER : Role.ADMIN,
        apiKeyId: link.api_key_id,
        expiresAt,
      });
      await this.audit.record(
        manager,
        { accountId: claims.accountId, environment: claims.environment },
        { kind: AuditActorKind.CONSOLE_SESSION, apiKeyId: link.api_key_id, sessionId, name: null },
        {
          action: AUDIT_ACTIONS.consoleSignedIn,
          targetType: 'console_session',
          targetId: sessionId,
          changes: { portalLinkId: link.id, role: link.read_only ? Role.VIEWER : Role.ADMIN, expiresAt: expiresAt.toISOString() },
        },
      );
      return { ok: true, sessionToken, expiresAt, readOnly: link.read_only } as const;
    });
  }

  /**
   * Ends a console session (signing out): its token is refused from the next
   * request, and the account's audit log says so. False when it was unknown.
   */
  async endSession(token: string): Promise<boolean> {
    if (!isConsoleSessionToken(token)) return false;
    return this.db.transaction(async (manager) => {
      const [rows] = (await manager.query(`DELETE FROM console_sessions WHERE token_hash = $1 RETURNING id, account_id, environment, api_key_id`, [
        hashToken(token),
      ])) as [Array<{ id: string; account_id: string; environment: Principal['environment']; api_key_id: string }>, number];
      const session = rows[0];
      if (!session) return false;
      await this.audit.record(
        manager,
        { accountId: session.account_id, environment: session.environment },
        { kind: AuditActorKind.CONSOLE_SESSION, apiKeyId: session.api_key_id, sessionId: session.id, name: null },
        { action: AUDIT_ACTIONS.consoleSignedOut, targetType: 'console_session', targetId: session.id },
      );
      return true;
    });
  }

  /** Resolves a console session token to its principal, or throws UNAUTHENTICATED. */
  async authenticate(token: string): Promise<Principal> {
    const hash = hashToken(token);
    const [row] = (await this.db.query(
      `SELECT s.id, s.token_hash, s.account_id, s.environment, s.role, s.api_key_id, k.rate_limit_per_second
       FROM console_sessions s JOIN api_keys k ON k.id = s.api_key_id
       WHERE s.token_hash = $1 AND s.expires_at > now() AND k.revoked_at IS NULL`,
      [hash],
    )) as Array<{
      id: string;
      token_hash: Buffer;
      account_id: string;
      environment: Principal['environment'];
      role: Role;
      api_key_id: string;
      rate_limit_per_second: number | null;
    }>;
    if (!row || !hashesEqual(row.token_hash, hash)) {
      throw new AppError('UNAUTHENTICATED', 'The console session is unknown or has expired; open a new portal link');
    }
    // A session counts against the budget of the key that made its link.
    return {
      apiKeyId: row.api_key_id,
      accountId: row.account_id,
      role: row.role,
      environment: row.environment,
      consoleSessionId: row.id,
      rateLimitPerSecond: row.rate_limit_per_second,
    };
  }
}

/**
 * Deletes expired console sessions, then expired links that no session
 * needs any more (a session belongs to its link), in short statements.
 * Run in the background by the maintenance job. An expired link that was
 * deleted still shows "expired": its signed expiry says so before any row
 * is read.
 */
export async function purgeExpiredPortalRows(db: DataSource): Promise<{ sessions: number; links: number }> {
  const step = async (sql: string): Promise<number> => {
    let total = 0;
    for (;;) {
      const deleted = ((await db.query(sql, [PURGE_BATCH])) as [unknown[], number])[1];
      total += deleted;
      if (deleted < PURGE_BATCH) return total;
    }
  };
  const sessions = await step(`DELETE FROM console_sessions WHERE id IN (SELECT id FROM console_sessions WHERE expires_at <= now() LIMIT $1)`);
  const links = await step(
    `DELETE FROM portal_links WHERE id IN (
       SELECT l.id FROM portal_links l
       WHERE l.expires_at <= now() AND NOT EXISTS (SELECT 1 FROM console_sessions s WHERE s.portal_link_id = l.id)
       LIMIT $1)`,
  );
  return { sessions, links };
}
