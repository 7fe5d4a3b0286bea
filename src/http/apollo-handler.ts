import { HeaderMap, type ApolloServer, type BaseContext, type HTTPGraphQLRequest } from '@apollo/server';
import type { Request, RequestHandler, Response } from 'express';

/** The part of a request URL after its path: `?…`, without a fragment; '' when there is none. */
export function searchOf(url: string): string {
  const start = url.indexOf('?');
  if (start < 0) return '';
  const end = url.indexOf('#', start);
  return end < 0 ? url.slice(start) : url.slice(start, end);
}

/**
 * Apollo Server as the Express handler of /graphql, given a body read by
 * jsonBody. It does what Apollo's Express integration does, less two costs
 * that every request paid: that integration parses the URL with Node's
 * legacy url.parse to find its query string, and answers through Express's
 * res.send (content type, ETag and freshness checks), where Apollo's answer
 * already carries its content type and is written as it is.
 */
export function apolloHandler<C extends BaseContext>(
  server: ApolloServer<C>,
  context: (args: { req: Request; res: Response }) => Promise<C>,
): RequestHandler {
  server.assertStarted('apolloHandler()');
  return async (req, res, next) => {
    try {
      const headers = new HeaderMap();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
      const request: HTTPGraphQLRequest = { method: req.method.toUpperCase(), headers, search: searchOf(req.url), body: req.body as unknown };
      const response = await server.executeHTTPGraphQLRequest({ httpGraphQLRequest: request, context: () => context({ req, res }) });
      for (const [name, value] of response.headers) res.setHeader(name, value);
      res.statusCode = response.status ?? 200;
      if (response.body.kind === 'complete') {
        res.end(response.body.string);
        return;
      }
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
    } catch (error) {
      next(error);
    }
  };
}
