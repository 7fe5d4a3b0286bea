import { useEffect, useState } from 'preact/hooks';
import { endSession, forgetToken, gql, isPortalSession, messageOf, storeToken, storedToken, whenUnauthenticated } from './api';
import { handle } from './common';
import { ActivityView } from './views/activity';
import { CatalogView } from './views/catalog';
import { EventsView } from './views/events';
import { KeysView } from './views/keys';
import { SubscriptionDetail } from './views/subscription';
import { WebhooksView } from './views/webhooks';

export interface Viewer {
  role: string;
  environment: string;
  account: { id: string; name: string } | null;
  apiKey: { name: string };
}

export interface Session {
  viewer: Viewer;
  /** ADMIN: may change things; VIEWER reads only. */
  canWrite: boolean;
  /** Signed in with a portal link rather than an API key. */
  portal: boolean;
}

const VIEWER = `{ viewer { role environment account { id name } apiKey { name } } }`;

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return hash;
}

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(storedToken() !== null);
  const [error, setError] = useState<string | null>(null);

  const signOut = (why: string | null = null) => {
    void endSession(storedToken());
    forgetToken();
    setSession(null);
    setError(why);
    location.hash = '';
  };

  const signIn = async (token: string) => {
    try {
      const { viewer } = await gql<{ viewer: Viewer }>(VIEWER, {}, token);
      if (!viewer.account || (viewer.role !== 'ADMIN' && viewer.role !== 'VIEWER')) {
        throw new Error(`The console is for ADMIN and VIEWER keys of an account; this key is ${viewer.role}.`);
      }
      storeToken(token);
      setError(null);
      setSession({
        viewer,
        canWrite: viewer.role === 'ADMIN',
        portal: isPortalSession(token),
      });
      if (!location.hash || location.hash === '#') location.hash = '#/webhooks';
    } catch (e) {
      forgetToken();
      setSession(null);
      setError(messageOf(e));
    } finally {
      setChecking(false);
    }
  };

  useEffect(() => {
    whenUnauthenticated(() => signOut('The session has ended (the key was revoked or the session expired). Sign in again.'));
    const token = storedToken();
    if (token) void signIn(token);
  }, []);

  if (checking) return <p class="centered">Signing in…</p>;
  if (!session) return <SignIn onSignIn={signIn} error={error} />;
  return <Shell session={session} onSignOut={() => signOut()} />;
}

function SignIn({ onSignIn, error }: { onSignIn: (token: string) => Promise<void>; error: string | null }) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <main class="sign-in">
      <h1>Hookline console</h1>
      <form
        onSubmit={handle(async (e: Event) => {
          e.preventDefault();
          setBusy(true);
          await onSignIn(key.trim());
          setBusy(false);
        })}
      >
        <label for="api-key">API key</label>
        <input id="api-key" type="password" autoComplete="off" required value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        <p class="hint">An ADMIN or VIEWER key of your account. It is kept in this tab only and forgotten when you sign out or close the tab.</p>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const hash = useHash();
  const path = hash.replace(/^#/, '') || '/webhooks';
  const [section = 'webhooks', id] = path.split('/').filter(Boolean);
  const showKeys = session.canWrite && !session.portal;
  const { viewer } = session;
  const tabs: Array<[string, string]> = [
    ['webhooks', 'Webhooks'],
    ['events', 'Events'],
    ['catalog', 'Catalog'],
    ['activity', 'Activity'],
    ...(showKeys ? ([['keys', 'API keys']] as Array<[string, string]>) : []),
  ];
  return (
    <>
      <header class={`banner env-${viewer.environment.toLowerCase()}`}>
        <div class="banner-text" role="status" aria-label="Signed in as">
          <strong>{viewer.account?.name}</strong>
          <span class="env">{viewer.environment === 'PRODUCTION' ? 'Production' : 'Staging'}</span>
          <span class="role">{viewer.role === 'ADMIN' ? 'Admin' : 'Read only'}</span>
          {session.portal && <span class="role">Portal</span>}
        </div>
        <button type="button" class="secondary" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <nav aria-label="Sections">
        {tabs.map(([key, label]) => (
          <a key={key} href={`#/${key}`} aria-current={section === key ? 'page' : undefined}>
            {label}
          </a>
        ))}
      </nav>
      <main>
        {section === 'webhooks' && !id && <WebhooksView session={session} />}
        {section === 'webhooks' && id && <SubscriptionDetail key={id} id={id} session={session} />}
        {section === 'events' && <EventsView id={id} />}
        {section === 'catalog' && <CatalogView />}
        {section === 'activity' && <ActivityView />}
        {section === 'keys' && showKeys && <KeysView />}
      </main>
    </>
  );
}
