import { randomBytes } from "node:crypto";
import {
  accessSync,
  closeSync,
  constants,
  fsyncSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

/** Environment variable names `--env PREFIX` makes: letters, digits and `_`, not starting with a digit. */
const ENV_PREFIX = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isEnvPrefix(prefix: string): boolean {
  return ENV_PREFIX.test(prefix);
}

/**
 * Why `file` cannot take a rendered value, or undefined when it can: its directory must exist,
 * be a directory this process may create files in (the temp file goes beside it), and the file
 * itself must not be a directory. Checked before `kon run` connects or starts anything.
 */
export function renderTargetProblem(file: string): string | undefined {
  const dir = dirname(resolve(file));
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "ENOENT" || code === "ENOTDIR"
      ? `its directory ${dir} does not exist (create it first)`
      : `its directory ${dir} cannot be read (${code ?? String(err)})`;
  }
  if (!isDir) return `${dir} is not a directory`;
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    return `its directory ${dir} is not writable by this user (the file is replaced by a rename of a temp file beside it)`;
  }
  try {
    if (statSync(file).isDirectory()) return `${file} is a directory`;
  } catch {
    // Not there yet: the first render creates it.
  }
  return undefined;
}

/**
 * Writes `value` as JSON to `file` so that a reader sees the old file or the new one, never a
 * part: a temp file beside it (0600: config holds secrets), flushed, then renamed over it.
 */
export function renderAtomically(file: string, value: unknown): void {
  const tmp = join(
    dirname(file),
    `.${basename(file)}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`,
  );
  let fd: number;
  try {
    fd = openSync(tmp, "wx", 0o600);
  } catch (err) {
    // The directory went away or lost its permissions since the start: name the file, not tmp.
    const why = renderTargetProblem(file) ?? (err as Error).message;
    throw new Error(`cannot render to ${file}: ${why}`, { cause: err });
  }
  try {
    writeSync(fd, `${JSON.stringify(value, null, 2)}\n`);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
}

/**
 * The value as environment variables: `PREFIX_A_B=…` for `{a: {b: …}}`, arrays by index
 * (`PREFIX_HOSTS_0`), names upper-cased with anything but letters and digits as `_`; strings as
 * they are, numbers and booleans as JSON, null as "". A value that is not an object is `PREFIX`
 * itself. Two paths that map to one name are an error (the child would see only one of them).
 */
export function flattenToEnv(prefix: string, value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const from = new Map<string, string>();
  const visit = (name: string, path: string, v: unknown): void => {
    if (v !== null && typeof v === "object") {
      const entries = Array.isArray(v)
        ? v.map((x, i) => [String(i), x] as const)
        : Object.entries(v);
      for (const [k, x] of entries) {
        visit(`${name}_${k.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`, `${path}/${k}`, x);
      }
      return;
    }
    const earlier = from.get(name);
    if (earlier !== undefined) {
      throw new Error(`config paths ${earlier} and ${path || "/"} both map to ${name}`);
    }
    from.set(name, path || "/");
    out[name] = v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v);
  };
  visit(prefix, "", value);
  return out;
}
