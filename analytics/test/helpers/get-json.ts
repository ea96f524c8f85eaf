import { readAuth } from "./test-auth";

/**
 * GET a JSON endpoint with a `read` token (see test-auth.ts); returns status and parsed body.
 * `headers` replace the token's (`{ authorization: "" }` sends none).
 */
export async function getJson<T = Record<string, unknown>>(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  const all: Record<string, string> = { ...readAuth(), ...headers };
  if (all.authorization === "") delete all.authorization;
  const res = await fetch(base + path, { headers: all });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}
