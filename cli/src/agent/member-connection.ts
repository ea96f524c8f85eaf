import { readFileSync, statSync } from "node:fs";
import { Konorkestra, KonError, KonErrorCode } from "@konorkestra/sdk";
import type { Logger } from "@konorkestra/sdk";
import { CliError, ExitCode } from "../exit-codes";

/** How `kon agent` and `kon run` join their group. */
export interface MemberFlags {
  group?: string;
  joinKeyFile?: string;
  node?: string;
  service?: string;
}

/**
 * The join key from `--join-key-file` (first line, trimmed), else KON_JOIN_KEY; undefined when
 * neither is set (the SDK then uses whatever other credential KON_* gives it).
 */
export function readJoinKey(file: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (file === undefined) return env.KON_JOIN_KEY || undefined;
  let text: string;
  try {
    if (statSync(file).mode & 0o004) {
      throw new CliError(
        ExitCode.Refused,
        `join key file ${file} is readable by everyone; refusing to use a shared secret`,
        { where: file, hint: `chmod 600 ${file}` },
      );
    }
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(ExitCode.Usage, `cannot read join key file: ${(err as Error).message}`, {
      where: file,
    });
  }
  const key = text.split("\n")[0]?.trim() ?? "";
  if (key === "")
    throw new CliError(ExitCode.Usage, `join key file ${file} is empty`, { where: file });
  return key;
}

/**
 * One SDK connection as a member of the group. The rest of the connection (servers, TLS,
 * snapshot directory) comes from KON_* as for any service.
 */
export async function connectMember(
  flags: MemberFlags,
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<Konorkestra> {
  const joinKey = readJoinKey(flags.joinKeyFile, env);
  try {
    return await Konorkestra.connect({
      group: flags.group ?? env.KON_GROUP,
      ...(joinKey !== undefined ? { joinKey } : {}),
      ...(flags.node !== undefined ? { nodeId: flags.node } : {}),
      ...(flags.service !== undefined ? { service: flags.service } : {}),
      logger,
    });
  } catch (err) {
    throw connectError(err);
  }
}

function connectError(err: unknown): CliError {
  if (!(err instanceof KonError)) {
    return new CliError(ExitCode.Failed, `cannot connect: ${String(err)}`, {}, { cause: err });
  }
  const exit =
    err.code === KonErrorCode.NatsUnreachable
      ? ExitCode.Unreachable
      : err.code === KonErrorCode.InvalidOptions || err.code === KonErrorCode.InvalidName
        ? ExitCode.Usage
        : ExitCode.Failed;
  return new CliError(exit, err.message, { code: err.code }, { cause: err });
}

/** A logger on stderr, prefixed with the command's name. */
export function stderrLogger(io: { stderr: NodeJS.WritableStream }, name: string): Logger {
  const line = (level: string, m: string): void => void io.stderr.write(`${name}: ${level}${m}\n`);
  return {
    info: (m) => line("", m),
    warn: (m) => line("warning: ", m),
    error: (m) => line("error: ", m),
  };
}
