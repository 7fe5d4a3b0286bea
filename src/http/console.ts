import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Request, type Response, type Router } from 'express';
import { bearerToken } from '../graphql/auth.js';
import { PORTAL_PATH, type LinkRefusal, type PortalService } from '../portal/service.js';
import { pagePolicy } from './security-headers.js';

export const CONSOLE_PATH = '/console/';

/** The built console (dist/console, written by `npm run build`), found from this module in src/ or in dist/src/. */
export function consoleDirectory(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'dist', 'console');
}

/** Everything the page loads comes from this server; nothing from elsewhere. */
const CONSOLE_DIRECTIVES = [
  "default-src 'self'",
  "script-src 'self'",
  // uPlot and Preact set element styles from script.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
];

/** The portal pages: no script at all, one form that posts back here. */
const PORTAL_PAGE_DIRECTIVES = ["default-src 'none'", "style-src 'unsafe-inline'", "base-uri 'none'", "form-action 'self'"];

const NO_STORE = { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' };

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

const PAGE_STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2933}h1{font-size:1.5rem}' +
  'button{font:inherit;padding:.6rem 1.2rem;border:0;border-radius:6px;background:#1d4ed8;color:#fff;cursor:pointer}' +
  'button:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}.hint{color:#52606d;font-size:.9rem}';

function page(title: string, body: string): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<meta name="robots" content="noindex"><title>${title} · Hookline</title><style>${PAGE_STYLE}</style></head>` +
    `<body><main><h1>${title}</h1>${body}</main></body></html>`
  );
}

/**
 * Whether a POST came from a page of this server: a browser says so in
 * Sec-Fetch-Site, or at least in Origin (compared by host, as a proxy that
 * ends TLS may hide the scheme). A request with neither is not a browser's,
 * so no one's browser was made to send it (login CSRF).
 */
function fromThisSite(req: Request): boolean {
  const site = req.get('sec-fetch-site');
  if (site) return site === 'same-origin';
  const origin = req.get('origin');
  if (origin === undefined) return true;
  return URL.canParse(origin) && new URL(origin).host === req.get('host');
}

export interface ConsoleSettings {
  /** CSP frame-ancestors sources: who may show the console and the portal pages in a frame. */
  frameAncestors: string;
}

/**
 * The developer console: a single-page application built into dist/console,
 * and the portal links that sign a browser into it. Opening a link (GET)
 * shows a page with a button and changes nothing, so that mail scanners,
 * link previews and proxies, which fetch links (some running their
 * scripts), neither use it up nor get a session; the button POSTs back,
 * which uses the link and starts a console session whose token reaches the
 * page in the URL fragment, which browsers never send to a server.
 */
export function consoleRouter(portal: PortalService, settings: ConsoleSettings): Router {
  // Strict: /console redirects to /console/, which must not match /console again.
  const router = express.Router({ strict: true });
  const dir = consoleDirectory();
  const index = path.join(dir, 'index.html');
  const portalPolicy = pagePolicy(PORTAL_PAGE_DIRECTIVES, settings.frameAncestors);
  const consolePolicy = pagePolicy(CONSOLE_DIRECTIVES, settings.frameAncestors);

  const refusalPage = (res: Response, reason: LinkRefusal): void => {
    const { status, title, text } = REFUSALS[reason];
    res
      .status(status)
      .set({ ...NO_STORE, 'content-security-policy': portalPolicy })
      .type('html')
      .send(page(title, `<p>${text}</p><p>Ask the application that gave you this link for a new one.</p>`));
  };

  router.get(`${PORTAL_PATH}:token`, async (req, res, next) => {
    try {
      const link = await portal.inspectLink(req.params.token);
      if (!link.ok) return refusalPage(res, link.reason);
      const access = link.readOnly ? 'to look at' : 'to manage';
      res
        .set({ ...NO_STORE, 'content-security-policy': portalPolicy })
        .type('html')
        .send(
          page(
            'Open the Hookline console',
            // An empty action posts to this same URL, link token included.
            `<p>This link signs you in to your account's webhooks ${access}, in this browser.</p>` +
              `<form method="post"><button type="submit">Open the console</button></form>` +
              `<p class="hint">The link works once and until ${link.expiresAt.toISOString().replace('T', ' ').slice(0, 16)} UTC.</p>`,
          ),
        );
    } catch (error) {
      next(error);
    }
  });
  router.post(`${PORTAL_PATH}:token`, async (req, res, next) => {
    try {
      if (!fromThisSite(req)) return refusalPage(res, 'invalid');
      const opened = await portal.openLink(req.params.token);
      if (!opened.ok) return refusalPage(res, opened.reason);
      res.set(NO_STORE).redirect(303, `${CONSOLE_PATH}#session=${opened.sessionToken}`);
    } catch (error) {
      next(error);
    }
  });
  // Signing out ends a console session on the server; an API key has nothing to end.
  router.post(`${CONSOLE_PATH}sign-out`, async (req, res, next) => {
    try {
      const token = bearerToken(req.headers.authorization);
      if (token) await portal.endSession(token);
      res.set(NO_STORE).status(204).end();
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
    res.set({ 'cache-control': 'no-cache', 'content-security-policy': consolePolicy, 'referrer-policy': 'no-referrer' }).sendFile(index);
  });
  // Asset names carry a content hash, so they can be cached for good.
  router.use(`${CONSOLE_PATH}assets`, express.static(path.join(dir, 'assets'), { index: false, immutable: true, maxAge: '365d' }));
  return router;
}
