import { LineCounter, isMap, isScalar, isSeq, parseDocument } from "yaml";
import type { Document, YAMLError } from "yaml";
import { reindentFlowLines, scanYamlShape } from "./yaml-shape";
import type { YamlShape } from "./yaml-shape";

/** Deepest nesting of objects and arrays a config value may have (JSON and YAML). */
export const MAX_NESTING = 256;
/**
 * Most collection items a YAML file may have. The YAML parser's time grows with items, not bytes
 * (about 1 s per 100,000 on a 2-core machine); JSON has no such limit.
 */
export const MAX_YAML_ITEMS = 50_000;

/** What is wrong with a YAML text, in a config author's words, and where (1-based). */
export interface YamlProblem {
  code: "syntax" | "size";
  reason: string;
  line: number;
  column: number;
}

export type YamlReading = { value: unknown } | { problem: YamlProblem };

/**
 * Reads one YAML document (YAML 1.2 core schema plus `<<` merge keys). Refused: nesting deeper
 * than {@link MAX_NESTING}, more than {@link MAX_YAML_ITEMS} items, several documents, a file of
 * only comments, a key repeated in one mapping (every line named). A flow collection (`{…}`,
 * `[…]`) whose later lines are under-indented is accepted, as most YAML readers do, because its
 * brackets leave no doubt about its content.
 */
export function readYaml(text: string): YamlReading {
  const shape = scanYamlShape(text, MAX_NESTING);
  const lc = lineStarts(text);
  if (shape.depth > MAX_NESTING) {
    const at = lc(shape.depthOffset);
    return fail("syntax", `nested more than ${MAX_NESTING} levels deep`, at);
  }
  if (shape.items > MAX_YAML_ITEMS) {
    return fail(
      "size",
      `about ${shape.items} items in one YAML file; the limit is ${MAX_YAML_ITEMS}: split it into several files or write it as JSON`,
      { line: 0, column: 0 },
    );
  }
  let lineCounter = new LineCounter();
  let doc = parse(text, lineCounter);
  if (doc.errors.length > 0 && doc.errors.some(isFlowIndent)) {
    const fixed = reindentFlowLines(text, shape);
    const again = fixed === undefined ? undefined : new LineCounter();
    const redo = fixed === undefined ? undefined : parse(fixed, again!);
    if (redo && redo.errors.length === 0) {
      doc = redo;
      lineCounter = again!;
    }
  }
  const err = doc.errors[0];
  if (err) return { problem: describe(err, shape, lc) };
  if (doc.contents === null) {
    return fail(
      "syntax",
      "the file holds no value, only comments or blank lines; write null or {} if an empty value is meant",
      { line: 1, column: 1 },
    );
  }
  const dup = firstDuplicateKey(doc, lineCounter);
  if (dup) return { problem: dup };
  return { value: doc.toJS({ maxAliasCount: 100 }) as unknown };
}

function parse(text: string, lineCounter: LineCounter): Document.Parsed {
  return parseDocument(text, { uniqueKeys: false, merge: true, prettyErrors: false, lineCounter });
}

const fail = (
  code: YamlProblem["code"],
  reason: string,
  at: { line: number; column: number },
): YamlReading => ({ problem: { code, reason: `invalid YAML: ${reason}`, ...at } });

const isFlowIndent = (e: YAMLError): boolean =>
  e.code === "BAD_INDENT" && /^Flow (map|sequence) in block collection/.test(e.message);

/** The parser's error in a config author's words. */
function describe(
  err: YAMLError,
  shape: YamlShape,
  lc: (offset: number) => { line: number; column: number },
): YamlProblem {
  const at = lc(err.pos[0]);
  const say = (reason: string, where = at): YamlProblem => ({
    code: "syntax",
    reason: `invalid YAML: ${reason}`,
    ...where,
  });
  const first = err.message.split(/ at line \d+, column \d+/)[0]!.trim();
  switch (err.code) {
    case "MULTIPLE_DOCS":
      return say(
        "one document per file: this '---' starts a second one; put it in a file of its own",
      );
    case "TAB_AS_INDENT":
      return say("a tab is used for indentation; YAML indents with spaces only");
    case "BAD_INDENT":
      if (isFlowIndent(err) && shape.unclosed) {
        const open = lc(shape.unclosed.offset);
        return say(`this '${shape.unclosed.char}' is never closed`, open);
      }
      if (/same column/.test(err.message)) {
        return say("this line is indented differently from the keys above it at the same level");
      }
      return say("this line is not indented as its surroundings require");
    case "MISSING_CHAR":
      if (/Implicit map keys/.test(err.message)) {
        return say("this line is neither 'key: value' nor a '- ' list item (a missing ':'?)");
      }
      if (/Sequence item without/.test(err.message)) {
        return say("a list item here lacks its '- '");
      }
      return say(first.replace(/^Missing/, "missing"));
    case "MULTILINE_IMPLICIT_KEY":
      return say("a key must fit on one line (a missing ':' or an unclosed quote above?)");
    case "BLOCK_AS_IMPLICIT_KEY":
      return say("a nested block cannot be used as a key");
    case "BAD_DQ_ESCAPE":
      return say("bad escape sequence in a double-quoted string");
    case "KEY_OVER_1024_CHARS":
      return say("a key longer than 1024 characters");
    default:
      return say(first.charAt(0).toLowerCase() + first.slice(1));
  }
}

/**
 * The first key that a mapping repeats, with every line it appears on. A plain walk over the
 * tree (depth already bounded): `visit()` builds a path per node and costs several times more.
 */
function firstDuplicateKey(
  doc: Document.Parsed,
  lineCounter: LineCounter,
): YamlProblem | undefined {
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isSeq(node)) {
      stack.push(...node.items);
      continue;
    }
    if (!isMap(node)) continue;
    const seen = new Map<string, number[]>();
    for (const pair of node.items) {
      stack.push(pair.value);
      const k = pair.key;
      const name = isScalar(k) ? String(k.value) : String(k);
      if (name === "<<") continue; // merge keys may repeat
      const offset = (k as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
      const at = seen.get(name);
      if (at) at.push(offset);
      else seen.set(name, [offset]);
    }
    for (const [name, offsets] of seen) {
      if (offsets.length < 2) continue;
      const lines = offsets.map((o) => lineCounter.linePos(o).line);
      const second = lineCounter.linePos(offsets[1]!);
      return {
        code: "syntax",
        reason: `invalid YAML: key ${JSON.stringify(name)} appears ${offsets.length} times in one mapping (lines ${lines.join(", ")}); keep one`,
        line: second.line,
        column: second.col,
      };
    }
  }
  return undefined;
}

/** Offset → 1-based line and column, with a line index built once. */
function lineStarts(text: string): (offset: number) => { line: number; column: number } {
  let starts: number[] | undefined;
  return (offset) => {
    if (!starts) {
      starts = [0];
      for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
    }
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 };
  };
}
