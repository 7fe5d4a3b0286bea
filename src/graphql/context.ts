import type { AccountScopedPrincipal, Principal } from '../accounts/service.js';
import { Role, type Scope } from '../domain.js';
import { AppError } from '../errors.js';
import type { Services } from '../services.js';

export interface GraphQLContext {
  services: Services;
  /** Null when the request carried no valid token; authError says why. */
  principal: Principal | null;
  authError: AppError | null;
  /** Where the client reached this server (scheme and host), for links that point back to it. */
  origin?: string;
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

export function requireAccountPrincipal(ctx: GraphQLContext): AccountScopedPrincipal {
  const principal = requirePrincipal(ctx);
  if (principal.accountId === null || principal.role === Role.OPERATOR) {
    throw new AppError('FORBIDDEN', 'An operator key sees no account data; use a key of the account');
  }
  return principal as AccountScopedPrincipal;
}
