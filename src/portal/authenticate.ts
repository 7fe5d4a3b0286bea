import type { Principal } from '../accounts/service.js';
import { AppError } from '../errors.js';
import type { Services } from '../services.js';
import { isConsoleSessionToken } from './service.js';

/**
 * A bearer token as a principal: a console session (hkc_, always read from
 * the database) or an API key (from the key cache only with fromCache; see
 * AccountService.authenticate).
 */
export async function authenticateBearer(
  services: Pick<Services, 'accounts' | 'portal'>,
  token: string,
  { fromCache = false }: { fromCache?: boolean } = {},
): Promise<{ principal: Principal; cached: boolean }> {
  if (isConsoleSessionToken(token)) return { principal: await services.portal.authenticate(token), cached: false };
  return services.accounts.resolveKey(token, fromCache);
}

/**
 * Operations that a console session may not use whatever its role: a
 * browser signed in by a portal link manages the account's webhooks, not
 * its API keys, portal links or catalog.
 */
const CLOSED_TO_CONSOLE_SESSIONS = new Set([
  'Query.apiKeys',
  'Mutation.createApiKey',
  'Mutation.revokeApiKey',
  'Mutation.setApiKeyRateLimit',
  'Mutation.createPortalSession',
  'Mutation.defineEventType',
  // A lease taken in a browser would hold deliveries back from the account's own consumer.
  'Query.pullDeliveries',
  'Mutation.acknowledgeDeliveries',
]);

/** The error for a console session calling one of those operations; undefined otherwise. */
export function consoleSessionRefusal(principal: Principal, parentType: string, fieldName: string): AppError | undefined {
  if (!principal.consoleSessionId || !CLOSED_TO_CONSOLE_SESSIONS.has(`${parentType}.${fieldName}`)) return undefined;
  return new AppError('FORBIDDEN', `A console session opened by a portal link cannot use ${fieldName}; use an API key`);
}
