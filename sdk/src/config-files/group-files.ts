import { stat } from "node:fs/promises";
import { sha256Hex } from "../config/stable-hash";
import { parseConfigBytes, readConfigFile } from "./config-file-parser";
import type { ParseResult, ParsedConfig, SourceProblem } from "./config-file-parser";
import type { SourceFormat } from "./key-mapper";
import type { ReadCache } from "./read-cache";
import type { ScannedFile } from "./tree-scanner";

/** What one file of a group folder yields under the config-file rules. */
export type FileReading =
  /** A value for `key`; `mtimeMs` is the file's modification time. */
  | { kind: "parsed"; file: ScannedFile; key: string; config: ParsedConfig; mtimeMs: number }
  /** Gone between listing and reading: its key keeps its value until the next pass decides. */
  | { kind: "vanished"; file: ScannedFile; key: string }
  /**
   * Refused; `key` ("" when the path names no key) keeps its previous value. `fingerprint`
   * identifies the refused content, to report it once.
   */
  | {
      kind: "refused";
      file: ScannedFile;
      key: string;
      problem: SourceProblem;
      fingerprint: string;
    };

/** Files read at the same time. */
const READ_WIDTH = 32;

/**
 * Reads and parses every file of a group scan: a path that names no key, two files naming one
 * key (`a.json` and `a.yaml`: both refused, neither wins), an unreadable, oversized, non-UTF-8 or
 * unparsable file are refused with the reason; the rest become canonical JSON values. The
 * config-loader and the SDK's `file:` source both read a folder through this, so a folder means
 * the same to both. Readings come in the order of `files`.
 */
export async function readGroupFiles(
  files: readonly ScannedFile[],
  maxValueBytes: number,
  cache?: ReadCache,
): Promise<FileReading[]> {
  const byKey = new Map<string, ScannedFile[]>();
  for (const f of files) {
    if (f.mapping.kind === "file") {
      byKey.set(f.mapping.key, [...(byKey.get(f.mapping.key) ?? []), f]);
    }
  }
  const out: FileReading[] = [];
  for (let i = 0; i < files.length; i += READ_WIDTH) {
    const chunk = files.slice(i, i + READ_WIDTH);
    out.push(...(await Promise.all(chunk.map((f) => readOne(f, byKey, maxValueBytes, cache)))));
  }
  return out;
}

async function readOne(
  file: ScannedFile,
  byKey: ReadonlyMap<string, ScannedFile[]>,
  maxValueBytes: number,
  cache: ReadCache | undefined,
): Promise<FileReading> {
  const refuse = (key: string, problem: SourceProblem, fingerprint: string): FileReading => ({
    kind: "refused",
    file,
    key,
    problem,
    fingerprint,
  });
  if (file.escapesTo !== undefined) {
    const key = file.mapping.kind === "file" ? file.mapping.key : "";
    const reason =
      file.mapping.kind === "invalid"
        ? file.mapping.reason
        : (file.escapeReason ??
          `symbolic link leads outside the config root (to ${file.escapesTo}); only links within the group's own folder are followed`);
    return refuse(key, { code: "io", reason, line: 0, column: 0 }, `escape:${file.escapesTo}`);
  }
  if (file.mapping.kind === "invalid") {
    const { reason } = file.mapping;
    return refuse("", { code: "name", reason, line: 0, column: 0 }, `name:${reason}`);
  }
  const { key, format } = file.mapping;
  const same = byKey.get(key) ?? [];
  if (same.length > 1) {
    const all = same.map((x) => x.sourcePath).join(", ");
    const reason = `key ${JSON.stringify(key)} is defined by several files (${all}); keep one`;
    return refuse(key, { code: "name", reason, line: 0, column: 0 }, `conflict:${all}`);
  }
  const outcome = (parsed: ParseResult, mtimeMs: number): FileReading =>
    parsed.ok
      ? { kind: "parsed", file, key, config: parsed.config, mtimeMs }
      : refuse(key, parsed.problem, parsed.fingerprint);
  // The checked, resolved path, never followed again: a link swapped in since is refused.
  const path = file.realPath || file.absPath;
  const noFollow = file.realPath !== "";
  if (cache) {
    const st = await stat(path, { bigint: true }).catch(() => undefined);
    const hit = st?.isFile() ? cache.byStat(file.sourcePath, st, format, Date.now()) : undefined;
    if (hit && st) return outcome(hit, Number(st.mtimeMs));
  }
  const read = await readConfigFile(path, maxValueBytes, { noFollow });
  if (read.kind === "vanished") return { kind: "vanished", file, key };
  if (read.kind === "problem") return refuse(key, read.problem, read.fingerprint);
  return outcome(parseCached(read, file.sourcePath, format, maxValueBytes, cache), read.mtimeMs);
}

function parseCached(
  read: Extract<Awaited<ReturnType<typeof readConfigFile>>, { kind: "bytes" }>,
  sourcePath: string,
  format: SourceFormat,
  maxValueBytes: number,
  cache: ReadCache | undefined,
): ParseResult {
  if (!cache) return parseConfigBytes(read.bytes, format, maxValueBytes);
  const contentKey = `${sha256Hex(read.bytes)}:${maxValueBytes}:${format}`;
  const known = cache.byContent(sourcePath, read.stat, contentKey);
  if (known) return known;
  const parsed = parseConfigBytes(read.bytes, format, maxValueBytes);
  cache.store(sourcePath, read.stat, contentKey, parsed);
  return parsed;
}
