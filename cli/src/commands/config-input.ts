import { readFile, stat } from "node:fs/promises";
import { extname, resolve } from "node:path";
import {
  DEFAULT_MAX_VALUE_BYTES,
  assertConfigKey,
  parseConfigBytes,
} from "@konorkestra/sdk/internal";
import type { SourceFormat } from "@konorkestra/sdk/internal";

import { CliError, ExitCode } from "../exit-codes";
import type { CliIo } from "../program";
import { canPrompt, readStdin } from "./prompt";

/** A value read for `kon put`, checked by the same rules the config-loader applies to a file. */
export interface ConfigInput {
  /** Any JSON value: an object, an array, a scalar or null (docs/wire-contract.md §3.1). */
  value: unknown;
  /** sha256 of the canonical JSON (sorted keys), as the loader will publish it. */
  sha256: string;
  /** The file, or "stdin". */
  where: string;
  format: SourceFormat;
}

/** Checks a config key before any request: a typo is a usage error that says what is wrong. */
export function configKeyArg(key: string): string {
  try {
    return assertConfigKey(key);
  } catch (err) {
    throw new CliError(ExitCode.Usage, (err as Error).message);
  }
}

const FORMATS: Record<string, SourceFormat> = { ".json": "json", ".yaml": "yaml", ".yml": "yaml" };

/**
 * Reads a file (or stdin for `-`) and parses it with the sdk's config-file rules: JSON or YAML,
 * UTF-8, no duplicate keys, at most 1 MiB. Nothing is sent unless this passes; a problem names
 * the file, line and column.
 */
export async function readConfigInput(
  io: CliIo,
  source: string | undefined,
  format: string | undefined,
): Promise<ConfigInput> {
  const fromStdin = source === undefined || source === "-";
  if (fromStdin && source === undefined && canPrompt(io)) {
    throw new CliError(ExitCode.Usage, "no value given", {
      hint: "pass a file (.json, .yaml), or '-' to read stdin",
    });
  }
  const where = fromStdin ? "stdin" : resolve(source);
  const bytes = fromStdin
    ? await readStdin(io, DEFAULT_MAX_VALUE_BYTES + 1)
    : await readFileChecked(where);
  const fmt = formatOf(where, format, bytes, fromStdin);
  const parsed = parseConfigBytes(bytes, fmt, DEFAULT_MAX_VALUE_BYTES);
  if (!parsed.ok) {
    const p = parsed.problem;
    const at = p.line > 0 ? `:${p.line}:${p.column}` : "";
    throw new CliError(ExitCode.Failed, `${where}${at}: ${p.reason}`, {
      code: p.code,
      hint: "nothing was sent",
    });
  }
  // Any JSON value at the top level, as the loader publishes a file and the config API writes it.
  return {
    value: parsed.config.value,
    sha256: parsed.config.sha256,
    where,
    format: fmt,
  };
}

async function readFileChecked(path: string): Promise<Buffer> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new CliError(ExitCode.Failed, `${path} is not a regular file`);
    if (s.size > DEFAULT_MAX_VALUE_BYTES) {
      throw new CliError(
        ExitCode.Failed,
        `${path} is ${s.size} bytes; the limit is ${DEFAULT_MAX_VALUE_BYTES}`,
      );
    }
    return await readFile(path);
  } catch (err) {
    if (err instanceof CliError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      code === "ENOENT" ? ExitCode.NotFound : ExitCode.Failed,
      `cannot read ${path}: ${code ?? String(err)}`,
    );
  }
}

function formatOf(
  where: string,
  flag: string | undefined,
  bytes: Buffer,
  stdin: boolean,
): SourceFormat {
  if (flag !== undefined) {
    if (flag !== "json" && flag !== "yaml") {
      throw new CliError(ExitCode.Usage, `--format: use json or yaml, not ${JSON.stringify(flag)}`);
    }
    return flag;
  }
  if (stdin) {
    // JSON is YAML too, but the JSON reader's messages are the clearer for JSON input.
    const first = bytes.toString("utf8").trimStart()[0];
    return first === "{" || first === "[" ? "json" : "yaml";
  }
  const f = FORMATS[extname(where).toLowerCase()];
  if (!f) {
    throw new CliError(ExitCode.Usage, `${where}: cannot tell the format from the name`, {
      hint: "use .json, .yaml or .yml, or pass --format json|yaml",
    });
  }
  return f;
}
