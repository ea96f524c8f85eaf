/**
 * Credentials out of any text that may leave a process's log (an error, /healthz, a metric):
 * `scheme://user:password@host` → `scheme://***@host`, and `password=…`-style pairs (a libpq
 * connection string, a URL query) → `password=***`. The one rule every service uses.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, "$1***@")
    .replace(/\b(password|passwd|pass|pwd|token|secret|seed|jwt|nkey)=[^\s&;,]*/gi, "$1=***");
}

/** Server URLs as a log line or an error may show them, comma-separated, credentials masked. */
export function describeServers(servers: readonly string[]): string {
  return servers.map(redactSecrets).join(",");
}
