import { readFileSync, statSync } from "node:fs";
import { Konorkestra, KonError, KonErrorCode } from "@konorkestra/sdk";
import type { Logger } from "@konorkestra/sdk";
import { CliError, ExitCode } from "../exit-codes";

/** How `kon agent` and `kon run` join their group. */
export interface MemberFlags {
  group?: string;
  joinKeyFile?: string;
  node?: string;
  /**
   * Suffix of the node id (the SDK's `nodeIdSuffix`, whatever the id's source); undefined leaves
   * it to KON_NODE_ID_SUFFIX.
   */
  nodeSuffix?: string;
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
      ...(flags.nodeSuffix !== undefined ? { nodeIdSuffix: flags.nodeSuffix } : {}),
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
  return new CliError(connectExitCode(err.code), err.message, { code: err.code }, { cause: err });
}

/** The exit code of a failed connect: a refused join key is 4, not 5 (scripts tell them apart). */
export function connectExitCode(code: KonErrorCode): ExitCode {
  switch (code) {
    case KonErrorCode.NatsRefused:
      return ExitCode.Refused;
    case KonErrorCode.NatsUnreachable:
      return ExitCode.Unreachable;
    case KonErrorCode.InvalidOptions:
    case KonErrorCode.InvalidName:
      return ExitCode.Usage;
    default:
      return ExitCode.Failed;
  }
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
