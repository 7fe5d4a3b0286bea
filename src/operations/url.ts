/**
 * An endpoint URL as it may be shown outside the subscription: query
 * parameter names kept, their values left out, and no user name, password
 * or fragment, since receivers often put a token in any of them.
 */
export function urlWithoutQueryValues(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '';
  }
  const names = [...new Set([...parsed.searchParams.keys()])];
  parsed.username = '';
  parsed.password = '';
  parsed.hash = '';
  parsed.search = '';
  return names.length ? `${parsed.href}?${names.map((n) => `${encodeURIComponent(n)}=`).join('&')}` : parsed.href;
}
