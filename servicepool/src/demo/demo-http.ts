/** GET a JSON document from a local service; undefined when it does not answer. */
export async function getJson<T = Record<string, unknown>>(
  url: string,
  token?: string,
): Promise<T | undefined> {
  try {
    const res = await fetch(url, {
      signal: AbortSignal.timeout(2000),
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    if (!res.ok) return undefined;
    return (await res.json()) as T;
  } catch {
    return undefined;
  }
}

/** Polls `probe` every 10 ms until it returns a value (not undefined); throws after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`demo: ${what} not seen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
