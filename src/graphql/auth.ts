import type { AuthChecker } from 'type-graphql';
import type { Role } from '../domain.js';
import { AppError } from '../errors.js';
import { consoleSessionRefusal } from '../portal/authenticate.js';
import { requirePrincipal, type GraphQLContext } from './context.js';

/**
 * type-graphql's @Authorized(roles) check. A field with @Authorized() and no
 * roles needs any valid key.
 */
export const authChecker: AuthChecker<GraphQLContext, Role> = ({ context, info }, roles) => {
  const principal = requirePrincipal(context);
  const refusal = consoleSessionRefusal(principal, info.parentType.name, info.fieldName);
  if (refusal) throw refusal;
  if (roles.length > 0 && !roles.includes(principal.role)) {
    throw new AppError('FORBIDDEN', `This operation needs one of the roles ${roles.join(', ')}; the key is ${principal.role}`);
  }
  return true;
};

/** Bearer token from an Authorization header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
