import type { Request, RequestHandler, Response } from 'express';
import { GraphQLError } from 'graphql';
import type { AccountScopedPrincipal, Principal } from '../accounts/service.js';
import { actorOf, type AuditActor } from '../audit/actions.js';
import { Role, type Scope } from '../domain.js';
import { AppError } from '../errors.js';
import type { Publisher } from '../events/service.js';
import { authenticateBearer } from '../portal/authenticate.js';
import type { Services } from '../services.js';
import { bearerToken } from './auth.js';
import type { RequestRateLimiter } from './rate-limit.js';

export interface GraphQLContext {
  services: Services;
  /** Null when the request carried no valid token; authError says why. */
  principal: Principal | null;
  authError: AppError | null;
  /**
   * Set when the principal came from the key cache: reads the key from the
   * database instead. Only a publishing operation goes without it, as its
   * transaction checks the key itself (see keyCheckPlugin).
   */
  recheckKey?: (() => Promise<Principal>) | null;
  /** Where the client reached this server (scheme and host), for links that point back to it. */
  origin?: string;
  /** Calls onLeave if the client goes away before its answer is sent (a long poll stops waiting); returns how to stop watching. */
  leaving?: (onLeave: () => void) => () => void;
}

export interface ContextDeps {
  services: Services;
  rateLimiter: RequestRateLimiter;
}

/** Where admitRequest leaves a request's principal for createContext. */
const ADMITTED = 'hooklineAdmitted';

/**
 * The first step of a GraphQL request, before its body is read or
 * inflated: the principal of its bearer token, then the rate limit of that
 * key (or of the client address when there is no valid key). A request over
 * its limit is answered 429 here, so that it costs no body, parsing or
 * validation.
 */
export function admitRequest({ services, rateLimiter }: ContextDeps): RequestHandler {
  return async (req, res, next) => {
    try {
      const context = await authenticate(services, req.headers.authorization);
      await rateLimiter.consume(context.principal, req.ip ?? req.socket.remoteAddress);
      res.locals[ADMITTED] = context;
      next();
    } catch (error) {
      const extensions = error instanceof GraphQLError ? error.extensions : undefined;
      if (extensions?.code !== 'RATE_LIMITED') return next(error);
      const retryAfterSeconds = extensions.retryAfterSeconds as number;
      // The body is left unread: unless it has all arrived anyway, the connection closes after the answer rather than read it.
      if (!req.complete) res.set('connection', 'close');
      res
        .status(429)
        .set('retry-after', String(retryAfterSeconds))
        .json({ errors: [{ message: (error as GraphQLError).message, extensions: { code: 'RATE_LIMITED', retryAfterSeconds } }] });
    }
  };
}

/** Builds the context of one GraphQL request from what admitRequest found. */
export function createContext({ services }: Pick<ContextDeps, 'services'>) {
  return async ({ req, res }: { req: Request; res: Response }): Promise<GraphQLContext> => {
    const context = (res.locals[ADMITTED] as GraphQLContext | undefined) ?? (await authenticate(services, req.headers.authorization));
    context.origin = `${req.protocol}://${req.get('host') ?? 'localhost'}`;
    context.leaving = (onLeave) => {
      const closed = () => {
        if (!res.writableFinished) onLeave();
      };
      res.once('close', closed);
      return () => res.off('close', closed);
    };
    return context;
  };
}

async function authenticate(services: Services, header: string | undefined): Promise<GraphQLContext> {
  const token = bearerToken(header);
  if (!token) {
    const authError = header ? new AppError('UNAUTHENTICATED', 'The Authorization header must be "Bearer <token>"') : null;
    return { services, principal: null, authError };
  }
  try {
    const { principal, cached } = await authenticateBearer(services, token, { fromCache: true });
    const recheckKey = cached ? async () => (await authenticateBearer(services, token)).principal : null;
    return { services, principal, authError: null, recheckKey };
  } catch (error) {
    if (error instanceof AppError) return { services, principal: null, authError: error };
    throw error;
  }
}

export function requirePrincipal(ctx: GraphQLContext): Principal {
  if (ctx.principal) return ctx.principal;
  throw ctx.authError ?? new AppError('UNAUTHENTICATED', 'Send an API key as "Authorization: Bearer <token>"');
}

/**
 * The account and environment that every account-scoped read and write
 * takes. An operator key belongs to no account and sees no account's data.
 */
export function scopeOf(ctx: GraphQLContext): Scope {
  const principal = requireAccountPrincipal(ctx);
  return { accountId: principal.accountId, environment: principal.environment };
}

/** The scope of a publish and the key that its transaction checks again (see EventService). */
export function publisherOf(ctx: GraphQLContext): Publisher {
  return { ...scopeOf(ctx), apiKeyId: requirePrincipal(ctx).apiKeyId };
}

export function requireAccountPrincipal(ctx: GraphQLContext): AccountScopedPrincipal {
  const principal = requirePrincipal(ctx);
  if (principal.accountId === null || principal.role === Role.OPERATOR) {
    throw new AppError('FORBIDDEN', 'An operator key sees no account data; use a key of the account');
  }
  return principal as AccountScopedPrincipal;
}

/** Who the audit log records as acting in this request: the key, or the console session and the key that made its link. */
export function actorOfContext(ctx: GraphQLContext): AuditActor {
  return actorOf(requirePrincipal(ctx));
}
