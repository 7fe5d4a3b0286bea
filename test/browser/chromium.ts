import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { createKey, startTestApp, type TestApp } from '../support/app.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { tenant, type Tenant } from '../support/scenario.js';

/**
 * Headless Chromium from the system (Debian's `chromium` package), driven
 * by playwright-core: no browser download. HOOKLINE_CHROMIUM names another
 * binary. HOOKLINE_BROWSER_TESTS=required (set by CI) turns a missing
 * browser into a failure instead of a loud skip.
 */
export const CHROMIUM = process.env.HOOKLINE_CHROMIUM ?? '/usr/bin/chromium';
export const BROWSER_REQUIRED = process.env.HOOKLINE_BROWSER_TESTS === 'required';
export const BROWSER_AVAILABLE = existsSync(CHROMIUM);

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  /** A new tab (its own sessionStorage) that may reach `origin` only; requests elsewhere are refused and recorded. */
  newPage(): Promise<Page>;
  /** Requests that went anywhere but the server under test. */
  readonly outside: string[];
  /** Opens the console in the page and signs in with the key, waiting for the signed-in navigation. */
  signIn(page: Page, key: string): Promise<void>;
  /** Writes a PNG of the page when HOOKLINE_SCREENSHOTS names a folder. */
  screenshot(page: Page, name: string): Promise<void>;
  close(): Promise<void>;
}

export async function launchBrowser(origin: string): Promise<Browser> {
  const profile = await mkdtemp(path.join(tmpdir(), 'hookline-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 900 },
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  context.setDefaultTimeout(15_000);
  const outside: string[] = [];
  // The console must work with no internet: anything not served by Hookline is refused.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:')) return route.continue();
    outside.push(url);
    return route.abort('blockedbyclient');
  });
  const shots = process.env.HOOKLINE_SCREENSHOTS;
  if (shots) await mkdir(shots, { recursive: true });
  return {
    context,
    outside,
    async newPage() {
      return context.newPage();
    },
    async signIn(page, key) {
      await page.goto(`${origin}/console`);
      await page.getByLabel('API key').fill(key);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('link', { name: 'Webhooks' }).waitFor();
    },
    async screenshot(page, name) {
      if (shots) await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** What every console test starts from: Hookline, a receiver, an account with a key of one role, and Chromium on Hookline's origin. */
export interface ConsoleFixture {
  t: TestApp;
  origin: string;
  receiver: Receiver;
  acme: Tenant;
  /** A key of the role asked for, of the account's PRODUCTION environment. */
  key: string;
  browser: Browser;
  /** Closes the browser (after checking that no page reached outside Hookline), the receiver and Hookline. */
  close(): Promise<void>;
}

export async function startConsoleFixture(role: 'ADMIN' | 'PUBLISHER' | 'VIEWER'): Promise<ConsoleFixture> {
  if (!BROWSER_AVAILABLE) throw new Error(`HOOKLINE_BROWSER_TESTS=required but there is no Chromium at ${CHROMIUM}`);
  const t = await startTestApp();
  const origin = t.url.replace(/\/graphql$/, '');
  let receiver: Receiver | undefined;
  let acme: Tenant;
  let key: string;
  let browser: Browser;
  try {
    receiver = await startReceiver();
    acme = await tenant(t, 'Acme Receivables');
    key = await createKey(t, acme.adminToken, role);
    browser = await launchBrowser(origin);
  } catch (error) {
    // The fixture is never handed out, so its close() cannot run: stop what was started.
    await receiver?.close();
    await t.stop();
    throw error;
  }
  return {
    t,
    origin,
    receiver,
    acme,
    key,
    browser,
    async close() {
      expect(browser.outside).toEqual([]);
      await browser.close();
      await receiver.close();
      await t.stop();
    },
  };
}
