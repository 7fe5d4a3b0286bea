/**
 * The one GraphQL client of the tests (and, by design, of the benchmark): a
 * POST of one operation with a bearer token, over any fetch (undici's fetch
 * with a keep-alive Pool as dispatcher, for many requests). It depends on
 * nothing test-specific, so that bench/ can import it.
 */

export interface GraphQLErrorEntry {
  message: string;
  path?: Array<string | number>;
  extensions?: Record<string, unknown>;
}

export interface GraphQLResult<T = Record<string, unknown>> {
  data?: T | null;
  errors?: GraphQLErrorEntry[];
}

/**
 * An operation whose result and variables are typed once where it is
 * written: `const VIEWER = operation<{ viewer: { role: string } }>('{ viewer { role } }')`.
 */
export interface Operation<TData, TVariables extends Record<string, unknown> = Record<string, unknown>> {
  readonly query: string;
  /** Carries the types only; never set. */
  readonly __types?: { data: TData; variables: TVariables };
}

export function operation<TData, TVariables extends Record<string, unknown> = Record<string, unknown>>(query: string): Operation<TData, TVariables> {
  return { query };
}

/** Thrown by `ok` when the answer carries errors; the first one's code is at hand. */
export class GraphQLRequestError extends Error {
  readonly code: string | undefined;

  constructor(readonly errors: GraphQLErrorEntry[]) {
    super(`GraphQL errors: ${JSON.stringify(errors)}`);
    this.name = 'GraphQLRequestError';
    this.code = errors[0]?.extensions?.code as string | undefined;
  }
}

type Fetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string },
) => Promise<{ status: number; text(): Promise<string> }>;

export class GraphQLClient {
  constructor(
    readonly url: string,
    private readonly fetcher: Fetch = fetch,
  ) {}

  /** The whole answer, errors included. */
  async request<T = Record<string, unknown>, V extends Record<string, unknown> = Record<string, unknown>>(
    token: string | undefined,
    query: string | Operation<T, V>,
    variables?: V,
  ): Promise<GraphQLResult<T>> {
    const response = await this.fetcher(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query: typeof query === 'string' ? query : query.query, variables }),
    });
    const text = await response.text();
    try {
      return JSON.parse(text) as GraphQLResult<T>;
    } catch {
      throw new Error(`HTTP ${response.status} without a GraphQL answer: ${text.slice(0, 200)}`);
    }
  }

  /** The data, or a GraphQLRequestError when there are errors. */
  async ok<T = Record<string, unknown>, V extends Record<string, unknown> = Record<string, unknown>>(
    token: string,
    query: string | Operation<T, V>,
    variables?: V,
  ): Promise<T> {
    const result = await this.request<T, V>(token, query, variables);
    if (result.errors?.length) throw new GraphQLRequestError(result.errors);
    if (result.data === undefined || result.data === null) throw new Error('GraphQL answer without data');
    return result.data;
  }
}
