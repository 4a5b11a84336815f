/**
 * The `Authorization` value for the user and password in a URL (`http://user:pass@host`):
 * `Basic` and base64 of `user:pass`, each percent-decoded first (RFC 7617). The callers decide
 * when a URL carries credentials.
 */
export function basicCredentials(url: URL): string {
  const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
}
