import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Response, type Router } from 'express';
import { PORTAL_PATH, type PortalService } from '../portal/service.js';

export const CONSOLE_PATH = '/console/';

/** The built console (dist/console, written by `npm run build`), found from this module in src/ or in dist/src/. */
export function consoleDirectory(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'dist', 'console');
}

/** Everything the page loads comes from this server; nothing from elsewhere. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  // uPlot and Preact set element styles from script.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

const REFUSALS = {
  invalid: {
    status: 400,
    title: 'This link is not valid',
    text: 'The link is incomplete or was changed, or the key that made it was revoked.',
  },
  expired: { status: 410, title: 'This link has expired', text: 'Portal links work for a short time only.' },
  used: {
    status: 410,
    title: 'This link was already used',
    text: 'A portal link signs in one browser, once. If that was you, go back to the tab it opened.',
  },
} as const;

function refusalPage(res: Response, reason: keyof typeof REFUSALS): void {
  const { status, title, text } = REFUSALS[reason];
  res
    .status(status)
    .set({ 'cache-control': 'no-store', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" })
    .type('html')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
        `<title>${title} · Hookline</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2933}` +
        `h1{font-size:1.5rem}</style></head><body><main><h1>${title}</h1><p>${text}</p>` +
        `<p>Ask the application that gave you this link for a new one.</p></main></body></html>`,
    );
}

/**
 * The developer console: a single-page application built into dist/console,
 * and the portal links that sign a browser into it. A link that opens
 * becomes a console session whose token reaches the page in the URL
 * fragment, which browsers never send to a server.
 */
export function consoleRouter(portal: PortalService): Router {
  // Strict: /console redirects to /console/, which must not match /console again.
  const router = express.Router({ strict: true });
  const dir = consoleDirectory();
  const index = path.join(dir, 'index.html');

  router.get(`${PORTAL_PATH}:token`, async (req, res, next) => {
    try {
      const opened = await portal.openLink(req.params.token);
      if (!opened.ok) return refusalPage(res, opened.reason);
      res.set({ 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }).redirect(303, `${CONSOLE_PATH}#session=${opened.sessionToken}`);
    } catch (error) {
      next(error);
    }
  });
  router.get('/console', (_req, res) => res.redirect(301, CONSOLE_PATH));
  router.get(CONSOLE_PATH, (_req, res) => {
    if (!existsSync(index)) {
      res.status(503).type('text').send('The console is not built: run `npm run build`.\n');
      return;
    }
    res.set({ 'cache-control': 'no-cache', 'content-security-policy': CONTENT_SECURITY_POLICY, 'referrer-policy': 'no-referrer' }).sendFile(index);
  });
  // Asset names carry a content hash, so they can be cached for good.
  router.use(`${CONSOLE_PATH}assets`, express.static(path.join(dir, 'assets'), { index: false, immutable: true, maxAge: '365d' }));
  return router;
}
