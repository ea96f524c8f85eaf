import { LineCounter, isNode, parseDocument } from "yaml";

/**
 * 1-based line and column in the source text of the value at a JSON Pointer (`/db/port`), for
 * schema errors; `{0, 0}` when it cannot be found. JSON is valid YAML flow syntax, so one YAML
 * parse with positions serves both formats. Falls back to the nearest existing ancestor.
 */
export function locateValue(text: string, pointer: string): { line: number; column: number } {
  try {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, uniqueKeys: false });
    if (doc.errors.length > 0) return { line: 0, column: 0 };
    const path = pointer === "" ? [] : pointer.slice(1).split("/").map(unescapePointer);
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(keysFor(doc, path.slice(0, n)), true);
      if (isNode(node) && node.range) {
        const pos = lineCounter.linePos(node.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
  } catch {
    // Locating is best effort; the reason text still names the path.
  }
  return { line: 0, column: 0 };
}

const unescapePointer = (s: string): string => s.replace(/~1/g, "/").replace(/~0/g, "~");

/** YAML map keys may be numbers (`8080: x`); sequences need numeric indexes. */
function keysFor(doc: ReturnType<typeof parseDocument>, path: string[]): unknown[] {
  const keys: unknown[] = [];
  for (const seg of path) {
    const asNumber = /^(0|[1-9][0-9]*)$/.test(seg) ? Number(seg) : undefined;
    if (asNumber !== undefined && doc.getIn([...keys, seg], true) === undefined) {
      keys.push(asNumber);
    } else {
      keys.push(seg);
    }
  }
  return keys;
}
