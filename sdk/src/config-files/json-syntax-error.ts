/** Where and why a text is not JSON. `offset` is a UTF-16 index into the text. */
export interface JsonSyntaxError {
  offset: number;
  reason: string;
}

class Fail extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const MAX_DEPTH = 4096;
const NUMBER = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

/**
 * Finds the first syntax error of a JSON text (RFC 8259), or undefined when it is valid.
 *
 * `JSON.parse` of Node 20 names a position for some errors only ("Unexpected token '}', ... is
 * not valid JSON" has none), so the loader runs this small scanner after `JSON.parse` failed to
 * report a line and column for every error.
 */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  const s = new Scanner(text);
  try {
    s.value(0);
    s.ws();
    if (s.pos < text.length) throw new Fail(s.pos, `unexpected ${s.describe()} after the value`);
    return undefined;
  } catch (err) {
    if (err instanceof Fail) return { offset: err.offset, reason: err.reason };
    throw err;
  }
}

class Scanner {
  pos = 0;
  constructor(private readonly t: string) {}

  describe(at = this.pos): string {
    if (at >= this.t.length) return "end of input";
    return JSON.stringify(this.t[at]);
  }

  ws(): void {
    while (this.pos < this.t.length && " \t\n\r".includes(this.t[this.pos]!)) this.pos++;
  }

  value(depth: number): void {
    if (depth > MAX_DEPTH) throw new Fail(this.pos, `nesting deeper than ${MAX_DEPTH}`);
    this.ws();
    const c = this.t[this.pos];
    if (c === "{") return this.object(depth);
    if (c === "[") return this.array(depth);
    if (c === '"') return this.string();
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return this.number();
    for (const word of ["true", "false", "null"]) {
      if (this.t.startsWith(word, this.pos)) {
        this.pos += word.length;
        return;
      }
    }
    throw new Fail(this.pos, `unexpected ${this.describe()}, expected a value`);
  }

  private object(depth: number): void {
    this.pos++; // {
    this.ws();
    if (this.t[this.pos] === "}") {
      this.pos++;
      return;
    }
    for (;;) {
      this.ws();
      if (this.t[this.pos] !== '"') {
        throw new Fail(
          this.pos,
          `unexpected ${this.describe()}, expected a property name in quotes`,
        );
      }
      this.string();
      this.ws();
      if (this.t[this.pos] !== ":") {
        throw new Fail(
          this.pos,
          `unexpected ${this.describe()}, expected ':' after a property name`,
        );
      }
      this.pos++;
      this.value(depth + 1);
      this.ws();
      const c = this.t[this.pos];
      this.pos++;
      if (c === "}") return;
      if (c !== ",") {
        throw new Fail(
          this.pos - 1,
          `unexpected ${this.describe(this.pos - 1)}, expected ',' or '}'`,
        );
      }
      this.ws();
      if (this.t[this.pos] === "}") throw new Fail(this.pos, "trailing comma before '}'");
    }
  }

  private array(depth: number): void {
    this.pos++; // [
    this.ws();
    if (this.t[this.pos] === "]") {
      this.pos++;
      return;
    }
    for (;;) {
      this.value(depth + 1);
      this.ws();
      const c = this.t[this.pos];
      this.pos++;
      if (c === "]") return;
      if (c !== ",") {
        throw new Fail(
          this.pos - 1,
          `unexpected ${this.describe(this.pos - 1)}, expected ',' or ']'`,
        );
      }
      this.ws();
      if (this.t[this.pos] === "]") throw new Fail(this.pos, "trailing comma before ']'");
    }
  }

  private string(): void {
    const start = this.pos;
    this.pos++; // opening quote
    for (;;) {
      if (this.pos >= this.t.length) throw new Fail(start, "unterminated string");
      const code = this.t.charCodeAt(this.pos);
      if (code === 0x22) {
        this.pos++;
        return;
      }
      if (code < 0x20)
        throw new Fail(this.pos, "control character (e.g. a line break) in a string");
      if (code === 0x5c) {
        const e = this.t[this.pos + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(this.t.slice(this.pos + 2, this.pos + 6))) {
            throw new Fail(this.pos, "bad \\u escape: expected 4 hex digits");
          }
          this.pos += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) {
          throw new Fail(this.pos, `bad escape \\${e ?? ""}`);
        }
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
  }

  private number(): void {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.t);
    if (!m || m[0] === "-") throw new Fail(this.pos, `bad number near ${this.describe()}`);
    this.pos += m[0].length;
    const next = this.t[this.pos];
    if (next !== undefined && /[0-9.eE]/.test(next)) {
      throw new Fail(this.pos, `bad number: unexpected ${this.describe()}`);
    }
  }
}

/** 1-based line and column (in characters) of a UTF-16 offset. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}
