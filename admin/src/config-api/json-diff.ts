/** A structural difference between two JSON values, at a JSON Pointer (RFC 6901). */
export type JsonChange =
  | { op: "added"; path: string; value: unknown }
  | { op: "removed"; path: string; old: unknown }
  | { op: "changed"; path: string; old: unknown; value: unknown };

const escape = (k: string): string => k.replace(/~/g, "~0").replace(/\//g, "~1");

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * What changed from `from` to `to`: objects are compared key by key (sorted, so the answer does not
 * depend on key order), arrays index by index (a longer array adds its tail, a shorter one
 * removes it), anything else — or a change of type — is one `changed` at that path. Equal values
 * give []. The whole value is path "".
 */
export function jsonDiff(from: unknown, to: unknown, path = ""): JsonChange[] {
  if (isObject(from) && isObject(to)) {
    const out: JsonChange[] = [];
    const keys = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort();
    for (const k of keys) {
      const p = `${path}/${escape(k)}`;
      if (!(k in to)) out.push({ op: "removed", path: p, old: from[k] });
      else if (!(k in from)) out.push({ op: "added", path: p, value: to[k] });
      else out.push(...jsonDiff(from[k], to[k], p));
    }
    return out;
  }
  if (Array.isArray(from) && Array.isArray(to)) {
    const out: JsonChange[] = [];
    const n = Math.max(from.length, to.length);
    for (let i = 0; i < n; i++) {
      const p = `${path}/${i}`;
      if (i >= to.length) out.push({ op: "removed", path: p, old: from[i] });
      else if (i >= from.length) out.push({ op: "added", path: p, value: to[i] });
      else out.push(...jsonDiff(from[i], to[i], p));
    }
    return out;
  }
  if (sameScalar(from, to)) return [];
  return [{ op: "changed", path, old: from, value: to }];
}

function sameScalar(a: unknown, b: unknown): boolean {
  if (typeof a === "object" || typeof b === "object") {
    // Different kinds (object vs array vs null): only null === null is equal here.
    return a === null && b === null;
  }
  return a === b;
}
