import { PortalSession } from '../types/portal.js';

/** What the portal service returns for a new link: the URL carries the signed token. */
export function presentPortalSession(link: { url: string; expiresAt: Date }): PortalSession {
  return Object.assign(new PortalSession(), { url: link.url, expiresAt: link.expiresAt });
}
