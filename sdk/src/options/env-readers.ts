import { KonError, KonErrorCode } from "../errors";

/**
 * The one reading of environment variables every Konorkestra process shares.
 *
 * - Unset, empty or blank: `undefined`, so the option's default applies.
 * - Booleans: `on`, `true`, `yes`, `1` are true; `off`, `false`, `no`, `0` are false (any case,
 *   surrounding blanks ignored). Anything else is an error naming the variable.
 * - Numbers: decimal only (`-12`, `1.5`, `1e3`); `0x10`, `12ms` or `1_000` give NaN, which the
 *   option schema refuses with the option's name.
 * - Lists: comma-separated, blanks trimmed, empty items dropped.
 */
const TRUE = new Set(["on", "true", "yes", "1"]);
const FALSE = new Set(["off", "false", "no", "0"]);
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * Environment variables as the readers take them: `process.env` fits. Declared here rather than
 * as `NodeJS.ProcessEnv` so that the SDK's public types compile without `@types/node`.
 */
export type EnvVars = Readonly<Record<string, string | undefined>>;

export function envString(env: EnvVars, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === "" ? undefined : v;
}

export function envBool(env: EnvVars, name: string): boolean | undefined {
  const v = envString(env, name)?.trim().toLowerCase();
  if (v === undefined) return undefined;
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new KonError(
    KonErrorCode.InvalidOptions,
    `invalid ${name}=${JSON.stringify(env[name])}: use on/off (or true/false, yes/no, 1/0)`,
  );
}

export function envNumber(env: EnvVars, name: string): number | undefined {
  const v = envString(env, name)?.trim();
  if (v === undefined) return undefined;
  return DECIMAL.test(v) ? Number(v) : Number.NaN;
}

export function envList(env: EnvVars, name: string): string[] | undefined {
  const v = envString(env, name);
  if (v === undefined) return undefined;
  const items = v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return items.length > 0 ? items : undefined;
}
