/**
 * A cheap, linear look at a YAML text before the real parser sees it. The `yaml` package builds
 * its tree recursively and, for some deeply nested inputs (`- - - - …` 20,000 times), aborts the
 * whole process while compiling a regular expression; its cost also grows with the number of
 * collection items, not bytes. This scan bounds both before parsing, and finds the lines of flow
 * collections (`{…}`, `[…]`) that continue over several lines, which common YAML readers accept
 * even when YAML 1.2 calls them under-indented.
 *
 * It is an estimate for limits and for re-indenting flow lines, not a parser: a wrong guess can
 * only refuse a pathological file or change nothing (see {@link reindentFlowLines}).
 */
export interface YamlShape {
  /** Upper bound of the nesting depth (block levels + `- ` indicators + flow brackets). */
  depth: number;
  /** UTF-16 offset where `depth` was reached. */
  depthOffset: number;
  /** Collection items (lines outside block scalars, plus commas in flow collections). */
  items: number;
  /** Lines that start inside a flow collection: where they start and the least indent they need. */
  flowLines: { offset: number; indent: number; minIndent: number }[];
  /** The outermost flow bracket still open at the end, if any. */
  unclosed?: { char: string; offset: number };
}

const BLOCK_SCALAR = /[|>][0-9+-]*\s*(#.*)?$/;

/** Scans `text`; stops early (with the depth reached) once `maxDepth` is exceeded. */
export function scanYamlShape(text: string, maxDepth: number): YamlShape {
  const shape: YamlShape = { depth: 0, depthOffset: 0, items: 0, flowLines: [] };
  const s = new LineState();
  let lineStart = 0;
  while (lineStart <= text.length) {
    let lineEnd = text.indexOf("\n", lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    s.line(text, lineStart, lineEnd, shape);
    if (shape.depth > maxDepth) return shape;
    lineStart = lineEnd + 1;
  }
  if (s.flow.length > 0) shape.unclosed = { char: s.flow[0]!.char, offset: s.flow[0]!.offset };
  return shape;
}

class LineState {
  /** Open flow brackets, outermost first, with the column of the outermost. */
  flow: { char: string; offset: number; column: number }[] = [];
  /** Indents of the open block levels. */
  private indents: number[] = [];
  /** Inside a block scalar (`|`, `>`): lines indented more than this belong to it. */
  private scalarIndent = -1;
  /** Inside a quoted scalar that continues on the next line. */
  private quote = "";
  /** Block depth of the last line that started outside flow collections. */
  private blockDepth = 0;

  line(t: string, start: number, end: number, shape: YamlShape): void {
    let i = start;
    while (i < end && t[i] === " ") i++;
    const indent = i - start;
    const blank = i >= end || t[i] === "\r" || (t[i] === "#" && this.quote === "");
    if (this.scalarIndent >= 0) {
      if (blank || indent > this.scalarIndent) return;
      this.scalarIndent = -1;
    }
    if (blank && this.quote === "") return;
    if (this.flow.length > 0 && this.quote === "") {
      shape.flowLines.push({ offset: start, indent, minIndent: this.flow[0]!.column + 1 });
    }
    let depth = this.blockDepth;
    if (this.flow.length === 0 && this.quote === "") {
      shape.items++;
      while (this.indents.length > 0 && this.indents[this.indents.length - 1]! > indent) {
        this.indents.pop();
      }
      if (this.indents[this.indents.length - 1] !== indent) this.indents.push(indent);
      depth = this.indents.length;
      // "- - x" and "? - x" open one level per indicator on the same line.
      while (i + 1 < end && "-?:".includes(t[i]!) && t[i + 1] === " ") {
        depth++;
        i += 2;
        while (i < end && t[i] === " ") i++;
      }
      this.blockDepth = depth;
    }
    this.note(shape, depth + this.flow.length, i);
    this.rest(t, i, end, shape, depth);
  }

  private note(shape: YamlShape, depth: number, offset: number): void {
    if (depth > shape.depth) {
      shape.depth = depth;
      shape.depthOffset = offset;
    }
  }

  /** The rest of a line: quotes, comments and flow indicators. */
  private rest(t: string, from: number, end: number, shape: YamlShape, base: number): void {
    let tokenStart = true;
    for (let i = from; i < end; i++) {
      const c = t[i]!;
      if (this.quote !== "") {
        if (this.quote === '"' && c === "\\") i++;
        else if (c === this.quote) {
          if (c === "'" && t[i + 1] === "'") i++;
          else this.quote = "";
        }
        continue;
      }
      if (c === "#" && (i === from || t[i - 1] === " " || t[i - 1] === "\t")) return;
      if (tokenStart && (c === "'" || c === '"')) {
        this.quote = c;
        tokenStart = false;
        continue;
      }
      const inFlow = this.flow.length > 0;
      if ((c === "[" || c === "{") && (inFlow || tokenStart)) {
        const column = this.flow.length === 0 ? i - lineStartOf(t, i) : this.flow[0]!.column;
        this.flow.push({ char: c, offset: i, column });
        this.note(shape, base + this.flow.length, i);
        tokenStart = true;
        continue;
      }
      if (inFlow && (c === "]" || c === "}")) {
        this.flow.pop();
        tokenStart = false;
        continue;
      }
      if (inFlow && c === ",") {
        shape.items++;
        tokenStart = true;
        continue;
      }
      if (c === " " || c === "\t") {
        const prev = t[i - 1];
        tokenStart = tokenStart || prev === ":" || prev === "-" || prev === "?";
        continue;
      }
      tokenStart = inFlow && c === ":";
    }
    if (this.flow.length === 0 && this.quote === "" && BLOCK_SCALAR.test(t.slice(from, end))) {
      const m = /[|>]/.exec(t.slice(from, end));
      if (m && (m.index === 0 || /[\s:-]/.test(t[from + m.index - 1]!))) {
        this.scalarIndent = this.indents[this.indents.length - 1] ?? 0;
      }
    }
  }
}

function lineStartOf(t: string, i: number): number {
  return t.lastIndexOf("\n", i - 1) + 1;
}

/**
 * Indents every line that starts inside a multi-line flow collection to one column past the
 * collection's opening bracket. Inside `{…}`/`[…]` leading white space carries no meaning (flow
 * scalars fold it away), so the value is unchanged; YAML 1.2 only requires the indentation,
 * which many files written for other readers lack. Returns undefined when nothing needs it.
 */
export function reindentFlowLines(text: string, shape: YamlShape): string | undefined {
  const short = shape.flowLines.filter((l) => l.indent < l.minIndent);
  if (short.length === 0) return undefined;
  let out = "";
  let at = 0;
  for (const l of short) {
    out += text.slice(at, l.offset) + " ".repeat(l.minIndent - l.indent);
    at = l.offset;
  }
  return out + text.slice(at);
}
