import { parseConfigBytes, readConfigFile } from "./config-file-parser";
import type { ParsedConfig, SourceProblem } from "./config-file-parser";
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
    out.push(...(await Promise.all(chunk.map((f) => readOne(f, byKey, maxValueBytes)))));
  }
  return out;
}

async function readOne(
  file: ScannedFile,
  byKey: ReadonlyMap<string, ScannedFile[]>,
  maxValueBytes: number,
): Promise<FileReading> {
  const refuse = (key: string, problem: SourceProblem, fingerprint: string): FileReading => ({
    kind: "refused",
    file,
    key,
    problem,
    fingerprint,
  });
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
  const read = await readConfigFile(file.absPath, maxValueBytes);
  if (read.kind === "vanished") return { kind: "vanished", file, key };
  if (read.kind === "problem") return refuse(key, read.problem, read.fingerprint);
  const parsed = parseConfigBytes(read.bytes, format, maxValueBytes);
  if (!parsed.ok) return refuse(key, parsed.problem, parsed.fingerprint);
  return { kind: "parsed", file, key, config: parsed.config, mtimeMs: read.mtimeMs };
}
