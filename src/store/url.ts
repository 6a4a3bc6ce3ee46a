// Store URLs in messages: the password of a postgres:// URL is never printed.

/** The URL with its password hidden (postgres://user:***@host/db); other strings unchanged. */
export function redactUrl(url: string): string {
  if (!url.includes('://')) return url;
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}
