/** Where a JSON text nests too deeply, or which object keys it repeats. Offsets are UTF-16 indexes. */
export type JsonShapeProblem =
  | { kind: "depth"; offset: number; depth: number }
  | { kind: "duplicate"; key: string; offsets: number[] };

interface Frame {
  object: boolean;
  /** Key → offsets of its occurrences (objects only). */
  keys: Map<string, number[]> | undefined;
  /** True when the next string in this object is a member name. */
  expectKey: boolean;
}

/**
 * Checks a text that `JSON.parse` accepted: nesting no deeper than `maxDepth`, and no object
 * that names one member twice (`JSON.parse` silently keeps the last). Iterative, so a text
 * nested 100,000 levels deep costs a loop, not the call stack. Returns the first problem found
 * (the first duplicate with every offset of it), or undefined.
 */
export function checkJsonShape(text: string, maxDepth: number): JsonShapeProblem | undefined {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) return { kind: "depth", offset: i, depth: stack.length + 1 };
      const object = c === 0x7b;
      stack.push({ object, keys: object ? new Map() : undefined, expectKey: object });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      const done = stack.pop();
      if (done?.keys) {
        const dup = firstDuplicate(done.keys);
        if (dup) return dup;
      }
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.object) top.expectKey = true;
    } else if (c === 0x22 /* " */) {
      const end = stringEnd(text, i);
      const top = stack[stack.length - 1];
      if (top?.object && top.expectKey) {
        const raw = text.slice(i, end + 1);
        const key = raw.includes("\\") ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        const seen = top.keys!.get(key);
        if (seen) seen.push(i);
        else top.keys!.set(key, [i]);
        top.expectKey = false;
      }
      i = end;
    }
  }
  return undefined;
}

function firstDuplicate(keys: Map<string, number[]>): JsonShapeProblem | undefined {
  for (const [key, offsets] of keys) {
    if (offsets.length > 1) return { kind: "duplicate", key, offsets };
  }
  return undefined;
}

/** Index of the closing quote of the string opening at `start` (the text is valid JSON). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const q = text.indexOf('"', i);
    if (q < 0) return text.length - 1;
    let backslashes = 0;
    for (let k = q - 1; k > start && text.charCodeAt(k) === 0x5c; k--) backslashes++;
    if (backslashes % 2 === 0) return q;
    i = q + 1;
  }
}

/**
 * True when a parsed JSON value (plain objects and arrays) holds an object or array more than
 * `maxDepth` levels deep; the top-level object or array is level 1, as in
 * {@link checkJsonShape}. Iterative, so a value nested 100,000 levels deep (`JSON.parse`
 * builds it without recursion) is answered without touching the call stack: check a request
 * body with it before anything recursive (JSON.stringify, a schema, a diff) walks the body.
 */
export function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
  const values: unknown[] = [value];
  const depths: number[] = [0];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth + 1 > maxDepth) return true;
    const children = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>);
    for (const child of children) {
      if (child !== null && typeof child === "object") {
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}
