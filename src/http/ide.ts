import express, { type Router } from 'express';
import { getDistDirectory, renderAltair } from 'altair-static';

const IDE_BASE = '/graphql/ide/';

/**
 * The GraphQL IDE (Altair) with every asset served from node_modules, so
 * that it works with no internet access.
 */
export function ideRouter(frameAncestors: string): Router {
  const router = express.Router();
  const page = renderAltair({
    baseURL: IDE_BASE,
    endpointURL: '/graphql',
    initialName: 'Hookline',
    initialHeaders: { Authorization: 'Bearer <your API token>' },
    initialQuery: '{\n  viewer {\n    role\n    environment\n    account { id name }\n  }\n}\n',
    disableAccount: true,
  });
  router.use(IDE_BASE, express.static(getDistDirectory(), { index: false, maxAge: '1h' }));
  router.get('/graphql', (req, res, next) => {
    // Browsers ask for HTML; GraphQL clients using GET ask for JSON and go on to Apollo.
    if (req.accepts(['application/json', 'text/html']) !== 'text/html' || req.query.query) return next();
    res.set('content-security-policy', `frame-ancestors ${frameAncestors}`).type('html').send(page);
  });
  return router;
}
