/** GraphQL over fetch with the signed-in token, and the token's place in the tab's session storage. */

const TOKEN_KEY = 'hookline.console.token';

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * Ends a console session on the server, so that its token is refused from
 * now on wherever it was copied to; an API key has nothing to end. Best
 * effort: the tab forgets the token whatever the answer.
 */
export async function endSession(token: string | null): Promise<void> {
  if (!isPortalSession(token)) return;
  await fetch('/console/sign-out', { method: 'POST', headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
}

/** A console session (opened by a portal link) rather than an API key. */
export function isPortalSession(token: string | null): boolean {
  return token?.startsWith('hkc_') ?? false;
}

export interface FieldProblem {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly fields: FieldProblem[] = [],
  ) {
    super(message);
  }
}

let onUnauthenticated: () => void = () => undefined;

/** Called when the server no longer accepts the token (revoked, expired). */
export function whenUnauthenticated(handler: () => void): void {
  onUnauthenticated = handler;
}

export async function gql<T>(query: string, variables: Record<string, unknown> = {}, token = storedToken()): Promise<T> {
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('Hookline cannot be reached. Check the connection and try again.', 'NETWORK');
  }
  let body: { data?: T; errors?: Array<{ message: string; extensions?: { code?: string; fields?: FieldProblem[] } }> };
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`Hookline answered ${response.status} without a GraphQL result.`, 'HTTP');
  }
  const error = body.errors?.[0];
  if (error) {
    const code = error.extensions?.code ?? 'ERROR';
    if (code === 'UNAUTHENTICATED' && token === storedToken()) onUnauthenticated();
    throw new ApiError(error.message, code, error.extensions?.fields ?? []);
  }
  return body.data as T;
}

/** The message to show for a failed call. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
