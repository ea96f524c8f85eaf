import { sharedTestTokens } from "@konorkestra/testkit";

/**
 * Options that make an analytics instance trust the test tokens (one key pair per Jest worker):
 * spread into `createAnalytics({ ...testAuth(), ... })`.
 */
export function testAuth(): { authPublicKeyFile: string } {
  return { authPublicKeyFile: sharedTestTokens().publicKeyFile };
}

/** The same for a child process's environment. */
export function testAuthEnv(): { KON_AUTH_PUBLIC_KEY_FILE: string } {
  return { KON_AUTH_PUBLIC_KEY_FILE: sharedTestTokens().publicKeyFile };
}

/** `{ authorization: "Bearer <token>" }` with the `read` scope, for a plain `fetch`. */
export function readAuth(): { authorization: string } {
  return sharedTestTokens().header(["read"]);
}
