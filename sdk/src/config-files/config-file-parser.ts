import { constants } from "node:fs";
import type { BigIntStats } from "node:fs";
import { lstat, open, readlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { sha256Hex } from "../config/stable-hash";
import { checkJsonShape } from "./json-shape";
import { findJsonSyntaxError, lineColumnAt } from "./json-syntax-error";
import type { SourceFormat } from "./key-mapper";
import { MAX_NESTING, readYaml } from "./yaml-reader";

/**
 * Why a file was not published (`SourceError.code`). `syntax`, `schema` and `size` are the
 * proto's own; `encoding` (not UTF-8), `name` (path cannot name a key, or two files name one key)
 * and `io` (unreadable, not a regular file, broken symlink) name the other refusals. `schema` is
 * the loader's alone (the SDK checks values with its own zod schema).
 */
export type RejectCode = "syntax" | "encoding" | "size" | "name" | "schema" | "io";

/** What is wrong with a file, and where (1-based line and column; 0 when not applicable). */
export interface SourceProblem {
  code: RejectCode;
  reason: string;
  line: number;
  column: number;
  /** JSON Pointer into the value (schema errors). */
  valuePath?: string;
}

/** A config value ready to publish. */
export interface ParsedConfig {
  format: SourceFormat;
  /** The value with object keys sorted, as published. */
  value: unknown;
  /** UTF-8 JSON of `value` with sorted keys and no white space: formatting is not a change. */
  payload: Uint8Array;
  /** Lowercase hex sha256 of `payload`. */
  sha256: string;
  /** The decoded source text, to point at schema errors. */
  text: string;
}

export type ParseResult =
  | { ok: true; config: ParsedConfig }
  /** `fingerprint` identifies the rejected content (sha256 of its bytes) for once-only reporting. */
  | { ok: false; problem: SourceProblem; fingerprint: string };

/** Largest config file, and largest value as JSON, by default (the loader's KON_MAX_VALUE_BYTES). */
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;

export type ReadResult =
  /** `mtimeMs`: modification time of the file read; `stat`: its stat as read. */
  | { kind: "bytes"; bytes: Uint8Array; mtimeMs: number; stat: BigIntStats }
  /** Gone between listing and reading: the next file event decides what it became. */
  | { kind: "vanished" }
  | { kind: "problem"; problem: SourceProblem; fingerprint: string };

const problem = (code: RejectCode, reason: string, line = 0, column = 0): SourceProblem => ({
  code,
  reason,
  line,
  column,
});

/**
 * Reads a config file without ever blocking on it (FIFOs and devices are refused) or reading more
 * than `maxBytes + 1` bytes of it. `noFollow`: refuse a symbolic link at `absPath` (used when
 * `absPath` is a path already resolved and checked, so a link swapped in since is not followed).
 */
export async function readConfigFile(
  absPath: string,
  maxBytes: number,
  opts: { noFollow?: boolean } = {},
): Promise<ReadResult> {
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer. The checks use the opened file, so a
    // rename between checking and reading cannot slip another file in.
    const flags =
      constants.O_RDONLY | constants.O_NONBLOCK | (opts.noFollow ? constants.O_NOFOLLOW : 0);
    const fh = await open(absPath, flags);
    try {
      const st = await fh.stat({ bigint: true });
      if (!st.isFile()) {
        return {
          kind: "problem",
          problem: problem("io", "not a regular file"),
          fingerprint: "io:not-a-file",
        };
      }
      const read = await readAtMost(fh, Number(st.size), maxBytes);
      return read.kind === "bytes" ? { ...read, mtimeMs: Number(st.mtimeMs), stat: st } : read;
    } finally {
      await fh.close();
    }
  } catch (err) {
    return readError(absPath, err as NodeJS.ErrnoException);
  }
}

/**
 * Reads to the end, but never more than `maxBytes + 1` bytes (the file may grow meanwhile). An
 * oversized file is fingerprinted by its size and the bytes read, so saving the same big file
 * again is not reported again, without hashing gigabytes.
 */
async function readAtMost(
  fh: FileHandle,
  expected: number,
  maxBytes: number,
): Promise<{ kind: "bytes"; bytes: Uint8Array } | Extract<ReadResult, { kind: "problem" }>> {
  let buf = Buffer.allocUnsafe(Math.min(expected, maxBytes) + 1);
  let n = 0;
  for (;;) {
    if (n === buf.length) {
      if (n > maxBytes) {
        const size = Math.max(expected, n);
        const reason = `file is ${expected > maxBytes ? `${expected} bytes` : "over the limit"}; the limit is ${maxBytes} (KON_MAX_VALUE_BYTES)`;
        return {
          kind: "problem",
          problem: problem("size", reason),
          fingerprint: `size:${size}:${sha256Hex(buf)}`,
        };
      }
      const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, maxBytes + 1));
      buf.copy(bigger, 0, 0, n);
      buf = bigger;
    }
    const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
    if (bytesRead === 0) return { kind: "bytes", bytes: buf.subarray(0, n) };
    n += bytesRead;
  }
}

async function readError(absPath: string, err: NodeJS.ErrnoException): Promise<ReadResult> {
  if (err.code === "ENOENT" || err.code === "ENOTDIR") {
    const link = await lstat(absPath).then(
      (l) => l.isSymbolicLink(),
      () => false,
    );
    if (!link) return { kind: "vanished" };
    const target = await readlink(absPath).catch(() => "?");
    return {
      kind: "problem",
      problem: problem("io", `broken symbolic link to ${target}`),
      fingerprint: `io:broken-link:${target}`,
    };
  }
  return {
    kind: "problem",
    problem: problem("io", `cannot read: ${err.code ?? ""} ${err.message}`.trim()),
    fingerprint: `io:${err.code ?? err.message}`,
  };
}

/**
 * Parses JSON or YAML bytes into a canonical JSON payload, or says exactly what is wrong. Never
 * throws for any content: whatever a file holds, the answer is about that file alone.
 */
export function parseConfigBytes(
  bytes: Uint8Array,
  format: SourceFormat,
  maxValueBytes: number,
): ParseResult {
  const fingerprint = sha256Hex(bytes);
  try {
    return parseChecked(bytes, format, maxValueBytes, fingerprint);
  } catch (err) {
    // A file must never take its group down with it (a stack overflow in a library, say).
    const why =
      err instanceof RangeError ? "nested or repeated too deeply to read" : (err as Error).message;
    return { ok: false, problem: problem("syntax", `cannot be read: ${why}`), fingerprint };
  }
}

function parseChecked(
  bytes: Uint8Array,
  format: SourceFormat,
  maxValueBytes: number,
  fingerprint: string,
): ParseResult {
  const fail = (p: SourceProblem): ParseResult => ({ ok: false, problem: p, fingerprint });
  if (bytes.length > maxValueBytes) {
    return fail(problem("size", `file is ${bytes.length} bytes; the limit is ${maxValueBytes}`));
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const pos = lineColumnAt(new TextDecoder("utf-8").decode(bytes.subarray(0, at)), Infinity);
    return fail(
      problem(
        "encoding",
        `not UTF-8: invalid byte 0x${hex(bytes[at])} at offset ${at}`,
        pos.line,
        pos.column,
      ),
    );
  }
  if (text.trim() === "") return fail(problem("syntax", "file is empty", 1, 1));
  const parsed = format === "json" ? parseJson(text) : parseYaml(text);
  if ("problem" in parsed) return fail(parsed.problem);
  let value: unknown;
  try {
    value = canonical(parsed.value, "", 0);
  } catch (err) {
    if (err instanceof ValueProblem) return fail(problem("syntax", err.message));
    throw err;
  }
  const payload = Buffer.from(JSON.stringify(value), "utf8");
  if (payload.length > maxValueBytes) {
    return fail(
      problem("size", `value is ${payload.length} bytes as JSON; the limit is ${maxValueBytes}`),
    );
  }
  return { ok: true, config: { format, value, payload, sha256: sha256Hex(payload), text } };
}

const hex = (b: number | undefined): string => (b ?? 0).toString(16).padStart(2, "0");

/** Offset of the first byte that does not start a valid UTF-8 sequence (RFC 3629). */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    // Allowed range of the second byte narrows for E0/ED/F0/F4 (no overlongs, no surrogates).
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= n; k++) {
      const x = b[i + k];
      if (x === undefined) return i;
      if (k === 1 ? x < lo || x > hi : (x & 0xc0) !== 0x80) return i;
    }
    i += n + 1;
  }
  return Math.max(0, b.length - 1);
}

type Parsed = { value: unknown } | { problem: SourceProblem };

function parseJson(raw: string): Parsed {
  const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (err) {
    const found = findJsonSyntaxError(text);
    const offset = found?.offset ?? 0;
    const { line, column } = lineColumnAt(text, offset);
    const reason = found?.reason ?? (err as Error).message;
    return { problem: problem("syntax", `invalid JSON: ${reason}`, line, column) };
  }
  const shape = checkJsonShape(text, MAX_NESTING);
  if (shape?.kind === "depth") {
    const { line, column } = lineColumnAt(text, shape.offset);
    const reason = `invalid JSON: nested more than ${MAX_NESTING} levels deep`;
    return { problem: problem("syntax", reason, line, column) };
  }
  if (shape?.kind === "duplicate") {
    const at = shape.offsets.map((o) => lineColumnAt(text, o));
    const lines = at.map((p) => p.line).join(", ");
    const reason = `invalid JSON: key ${JSON.stringify(shape.key)} appears ${at.length} times in one object (lines ${lines}); keep one`;
    return { problem: problem("syntax", reason, at[1]!.line, at[1]!.column) };
  }
  return { value };
}

function parseYaml(text: string): Parsed {
  const r = readYaml(text);
  if ("problem" in r) {
    const { code, reason, line, column } = r.problem;
    return { problem: problem(code, reason, line, column) };
  }
  return { value: r.value };
}

class ValueProblem extends Error {}

/**
 * A config value is any JSON value: an object, an array, a string, a number, a boolean or null
 * (docs/wire-contract.md §3.1). Files, the SDK's `file:` source, the config API and `kon put` all
 * accept every one of them; a registered JSON Schema (the loader, the API) or the service's zod
 * schema decides what a key may hold. The one value that is not a config value is none at all:
 * a write without one (`configs` missing from an API item). Undefined when `value` is a value;
 * otherwise the refusal, in a config author's words.
 */
export function valueShapeProblem(value: unknown): string | undefined {
  if (value === undefined) return "the value is missing; write null or {} for an empty value";
  return undefined;
}

/**
 * Sorted keys and plain JSON types only. Values JSON cannot carry exactly are refused rather than
 * silently changed: `.inf`/`.nan` (JSON.stringify would write null) and integers beyond 2^53
 * (already rounded by the parser).
 */
function canonical(v: unknown, path: string, depth: number): unknown {
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new ValueProblem(`${path || "/"}: ${v} has no JSON form`);
    if (Number.isInteger(v) && !Number.isSafeInteger(v)) {
      throw new ValueProblem(
        `${path || "/"}: number ${v} is beyond 2^53 and cannot be kept exactly; quote it as a string`,
      );
    }
    return v;
  }
  if (depth >= MAX_NESTING) {
    throw new ValueProblem(`${path || "/"}: nested more than ${MAX_NESTING} levels deep`);
  }
  if (Array.isArray(v)) return v.map((x, i) => canonical(x, `${path}/${i}`, depth + 1));
  if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    // No prototype: a "__proto__" key stays an ordinary property.
    const out = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(v).sort()) {
      const child = (v as Record<string, unknown>)[k];
      out[k] = canonical(child, `${path}/${escapePointer(k)}`, depth + 1);
    }
    return out;
  }
  throw new ValueProblem(`${path || "/"}: unsupported value (${typeof v}) has no JSON form`);
}

export const escapePointer = (k: string): string => k.replace(/~/g, "~0").replace(/\//g, "~1");
