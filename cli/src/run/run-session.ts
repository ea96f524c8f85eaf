import { basename } from "node:path";
import { z } from "zod";
import { KonError, KonErrorCode } from "@konorkestra/sdk";
import { envString, toNodeIdToken } from "@konorkestra/sdk/internal";
import type { ConfigHandle, Konorkestra, Logger } from "@konorkestra/sdk";
import { connectMember } from "../agent/member-connection";
import type { MemberFlags } from "../agent/member-connection";
import { CliError, ExitCode } from "../exit-codes";
import { ChildSupervisor, exitCodeOf } from "./child-supervisor";
import type { ChildExit } from "./child-supervisor";
import { flattenToEnv, renderAtomically } from "./config-output";

/** What `kon run` does, from its flags. */
export interface RunSpec {
  readonly member: MemberFlags;
  readonly key: string;
  /** Where the value is rendered (JSON), or undefined with `envPrefix`. */
  readonly renderFile?: string;
  /** Prefix of the variables the value is exported as, or undefined with `renderFile`. */
  readonly envPrefix?: string;
  /** What a change does: send this signal, or restart the child. */
  readonly onChange: { signal: NodeJS.Signals } | "restart";
  readonly command: string;
  readonly args: readonly string[];
  readonly heartbeatIntervalMs: number;
  readonly graceMs: number;
}

/**
 * Runs `spec.command` under the group's config of `spec.key`: the value is rendered (or
 * exported) before the child starts and again on each change, after which the child gets its
 * signal or is restarted. Heartbeats go out for the child while it lives. Resolves with the
 * child's exit code.
 */
export async function runSupervised(
  spec: RunSpec,
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<number> {
  const kon = await connectMember(
    {
      ...spec.member,
      nodeSuffix: spec.member.nodeSuffix ?? runNodeIdSuffix(spec, env),
      service: spec.member.service ?? basename(spec.command),
    },
    env,
    logger,
  );
  let handle: ConfigHandle<unknown>;
  // The variables of the last value delivered: a restart starts the child with these.
  const exported = { vars: {} as Record<string, string> };
  try {
    handle = await kon.config(spec.key, z.unknown());
    exported.vars = deliver(spec, handle.value);
  } catch (err) {
    await kon.close();
    throw readError(spec.key, err);
  }
  const childEnv = (): NodeJS.ProcessEnv => {
    // The child does not need the group's credential: it reads its config from kon run.
    const { KON_JOIN_KEY: _secret, ...rest } = env;
    return { ...rest, ...exported.vars };
  };
  const child = new ChildSupervisor(spec.command, spec.args, childEnv, spec.graceMs, logger);
  child.start();
  logger.info(
    `started ${spec.command} (pid ${child.pid ?? "?"}) on ${spec.key} revision ${handle.revision} as node ${kon.nodeId}`,
  );
  kon.heartbeat({ intervalMs: spec.heartbeatIntervalMs });
  const stopFollowing = follow(spec, handle, child, exported, logger);
  const exit = await child.exited;
  stopFollowing();
  await leave(kon, exit, logger);
  return exitCodeOf(exit);
}

/**
 * Writes the value where the child reads it: the rendered file, or the variables the child gets
 * at its next start (returned).
 */
function deliver(spec: RunSpec, value: unknown): Record<string, string> {
  if (spec.renderFile !== undefined) renderAtomically(spec.renderFile, value);
  return spec.envPrefix !== undefined ? flattenToEnv(spec.envPrefix, value) : {};
}

/**
 * Applies changes one at a time; changes arriving meanwhile collapse into one (the newest value
 * is what counts). A value that cannot be delivered keeps the child on the previous one.
 */
function follow(
  spec: RunSpec,
  handle: ConfigHandle<unknown>,
  child: ChildSupervisor,
  exported: { vars: Record<string, string> },
  logger: Logger,
): () => void {
  let dirty = false;
  let busy = false;
  let stopped = false;
  const pump = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    while (dirty && !stopped) {
      dirty = false;
      const revision = handle.revision;
      try {
        exported.vars = deliver(spec, handle.value);
      } catch (err) {
        logger.error(
          `${spec.key} revision ${revision} not delivered, child keeps the previous value: ${String(err)}`,
        );
        continue;
      }
      if (spec.onChange === "restart") {
        logger.info(`${spec.key} revision ${revision}: restarting the child`);
        await child.restart();
      } else {
        logger.info(
          `${spec.key} revision ${revision}: sending ${spec.onChange.signal} to pid ${child.pid ?? "?"}`,
        );
        child.signal(spec.onChange.signal);
      }
    }
    busy = false;
  };
  const unsubscribe = handle.onChange(() => {
    dirty = true;
    void pump();
  });
  return () => {
    stopped = true;
    unsubscribe();
  };
}

/**
 * A clean end (exit 0, or a stop `kon run` was asked for) sends the leaving beat: `node.left`.
 * Any other end drops the connection first, so no leaving beat goes out and the monitor reports
 * `node.down` when the beats stop, as it would for a crash of a service using the SDK.
 */
async function leave(kon: Konorkestra, exit: ChildExit, logger: Logger): Promise<void> {
  const clean = (exit.code === 0 && exit.spawnError === undefined) || exit.stopRequested;
  if (exit.spawnError !== undefined) logger.error(`cannot start the command: ${exit.spawnError}`);
  else
    logger.info(
      `child ended (${exit.code !== null ? `code ${exit.code}` : `signal ${exit.signal}`})${clean ? "; leaving" : "; no leaving beat"}`,
    );
  if (!clean) await kon.connection?.close().catch(() => undefined);
  await kon.close();
}

function readError(key: string, err: unknown): unknown {
  if (!(err instanceof KonError)) {
    return new CliError(
      ExitCode.Failed,
      `cannot deliver config ${key}: ${String(err)}`,
      {},
      { cause: err },
    );
  }
  const exit =
    err.code === KonErrorCode.ConfigNotFound
      ? ExitCode.NotFound
      : err.code === KonErrorCode.InvalidName
        ? ExitCode.Usage
        : err.code === KonErrorCode.ConfigUnavailable
          ? ExitCode.Unreachable
          : ExitCode.Failed;
  return new CliError(exit, err.message, { code: err.code }, { cause: err });
}

/**
 * The node id suffix of a `kon run` when --node does not name the node: the config key (as a
 * token), so that `kon agent` and each `kon run` of another key on one host are distinct nodes
 * (one sharing the agent's id would hide the other's death), and a restarted `kon run` is the
 * same node again. The SDK appends it to whatever id it finds (KON_NODE_ID, the AWS instance id,
 * the MAC address, the host name). KON_NODE_ID_SUFFIX, when set, is the operator's choice.
 */
export function runNodeIdSuffix(spec: RunSpec, env: NodeJS.ProcessEnv): string | undefined {
  if (spec.member.node !== undefined || envString(env, "KON_NODE_ID_SUFFIX") !== undefined) {
    return undefined;
  }
  return toNodeIdToken(spec.key, 64);
}
