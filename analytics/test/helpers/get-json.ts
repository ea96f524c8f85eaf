/** GET a JSON endpoint; returns status and parsed body. */
export async function getJson<T = Record<string, unknown>>(
  base: string,
  path: string,
): Promise<{ status: number; body: T }> {
  const res = await fetch(base + path);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}
