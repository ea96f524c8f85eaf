import { assertConfigKey, assertGroupName } from "../wire/names";

/** Format of a config source file, from its extension. */
export type SourceFormat = "json" | "yaml";

/** What a path inside a group folder means (to the loader and to the SDK's `file:` source). */
export type PathMapping =
  /** Not a config file (hidden, editor temp file, other extension): silently skipped. */
  | { kind: "ignored" }
  | { kind: "file"; key: string; format: SourceFormat }
  /** Looks like a config file but cannot name a key: rejected with `reason`. */
  | { kind: "invalid"; reason: string };

const EXTENSIONS: Record<string, SourceFormat> = { json: "json", yaml: "yaml", yml: "yaml" };

/**
 * Hidden entries (`.git`, `.a.json.swp`, emacs `.#a.json`) and backup files (`a.json~`) are never
 * config: editors and git-sync write them next to real files.
 */
export function isIgnoredName(name: string): boolean {
  return name.startsWith(".") || name.endsWith("~");
}

/** Why `name` cannot be a group folder, or undefined when it can. */
export function groupNameProblem(name: string): string | undefined {
  try {
    assertGroupName(name);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function segmentProblem(segment: string, what: string): string | undefined {
  if (segment.includes(".")) {
    return `${what} ${JSON.stringify(segment)} contains '.'; nested keys come from folders (a/b.json is key a.b)`;
  }
  try {
    assertConfigKey(segment);
    return undefined;
  } catch (err) {
    return `${what} ${JSON.stringify(segment)} is not a valid key segment: ${(err as Error).message}`;
  }
}

/**
 * Maps a path inside a group folder (`/`-separated, e.g. `service1/db.yaml`) to its config key
 * (`service1.db`). Each folder and the file name without extension must be one key token.
 */
export function keyForPath(pathInGroup: string): PathMapping {
  const segments = pathInGroup.split("/");
  if (segments.some((s) => s === "" || isIgnoredName(s))) return { kind: "ignored" };
  const file = segments.pop()!;
  const dot = file.lastIndexOf(".");
  if (dot <= 0) return { kind: "ignored" };
  const format = EXTENSIONS[file.slice(dot + 1).toLowerCase()];
  if (format === undefined) return { kind: "ignored" };
  const stem = file.slice(0, dot);
  for (const folder of segments) {
    const problem = segmentProblem(folder, "folder");
    if (problem) return { kind: "invalid", reason: problem };
  }
  const problem = segmentProblem(stem, "file name");
  if (problem) return { kind: "invalid", reason: problem };
  const key = [...segments, stem].join(".");
  try {
    assertConfigKey(key);
  } catch (err) {
    return { kind: "invalid", reason: (err as Error).message };
  }
  return { kind: "file", key, format };
}

/** The path stem (without extension) inside a group folder that holds `key`: `a.b` → `a/b`. */
export function pathStemForKey(key: string): string {
  return assertConfigKey(key).replaceAll(".", "/");
}
