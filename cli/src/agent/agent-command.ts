import type { Command } from "commander";
import { CliError, ExitCode } from "../exit-codes";
import type { CliIo } from "../program";
import { DEFAULT_REQUEST_TIMEOUT_MS, startAgent } from "./agent-server";
import { connectMember, stderrLogger } from "./member-connection";
import { parseMs } from "./ms-flag";
import { claimSocketPath } from "./unix-socket";

interface AgentFlags {
  group?: string;
  socket: string;
  joinKeyFile?: string;
  socketMode: string;
  socketGroup?: string;
  node?: string;
  heartbeatInterval: string;
  requestTimeout: string;
}

/** Registers `kon agent`. */
export function registerAgentCommand(program: Command, io: CliIo): void {
  program
    .command("agent")
    .description(
      "serve the group's config and heartbeats to local processes over HTTP on a Unix socket",
    )
    .requiredOption("--socket <path>", "Unix socket to listen on")
    .option("--group <group>", "group to join (default: KON_GROUP)")
    .option("--join-key-file <file>", "file holding the group's join key (default: KON_JOIN_KEY)")
    .option("--socket-mode <octal>", "permission bits of the socket file", "0660")
    .option("--socket-group <name>", "group owning the socket file (name or gid)")
    .option("--node <id>", "the agent's node id (default: KON_NODE_ID, else derived)")
    .option("--heartbeat-interval <ms>", "the agent's own heartbeat period", "1000")
    .option(
      "--request-timeout <ms>",
      "time a client has to send a whole request (headers and body); a slower one gets 408 and is disconnected",
      String(DEFAULT_REQUEST_TIMEOUT_MS),
    )
    .addHelpText(
      "after",
      `
Routes (curl --unix-socket PATH http://kon/...):
  GET  /v1/config                   keys of the group with their revisions
  GET  /v1/config/:key              value, revision, sha256 and provenance
  GET  /v1/config/:key?wait=REV     long-poll until revision > REV (timeout=S, 304 on timeout)
  GET  /v1/watch[?keys=a,b]         server-sent events, one per applied change (id = revision)
  POST /v1/heartbeat                a beat for {"node": ID, "intervalMs": ...}
  GET  /healthz`,
    )
    .action(async (flags: AgentFlags) => {
      const mode = parseMode(flags.socketMode);
      const intervalMs = parseMs(flags.heartbeatInterval, "--heartbeat-interval");
      const requestTimeoutMs = parseMs(flags.requestTimeout, "--request-timeout");
      const logger = stderrLogger(io, "kon agent");
      await claimSocketPath(flags.socket);
      const kon = await connectMember(
        {
          group: flags.group,
          joinKeyFile: flags.joinKeyFile,
          node: flags.node,
          service: "kon-agent",
        },
        io.env,
        logger,
      );
      let agent;
      try {
        agent = await startAgent({
          kon,
          socketPath: flags.socket,
          access: { mode, group: flags.socketGroup },
          heartbeatIntervalMs: intervalMs,
          requestTimeoutMs,
          logger,
        });
      } catch (err) {
        await kon.close();
        throw err;
      }
      logger.info(`serving group ${kon.group} as node ${kon.nodeId} on ${flags.socket}`);
      const signal = await untilSignal(["SIGINT", "SIGTERM"]);
      logger.info(`${signal}: stopping`);
      await agent.stop();
    });
}

/** Resolves with the first of `signals` this process receives. */
function untilSignal(signals: NodeJS.Signals[]): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals): void => {
      for (const x of signals) process.off(x, on);
      resolve(s);
    };
    for (const s of signals) process.on(s, on);
  });
}

function parseMode(raw: string): number {
  if (!/^0?[0-7]{3}$/.test(raw)) {
    throw new CliError(
      ExitCode.Usage,
      `invalid --socket-mode ${JSON.stringify(raw)}: use octal, e.g. 0660`,
    );
  }
  const mode = parseInt(raw, 8);
  if (mode & 0o007) {
    // Anyone who can connect reads every config value of the group (secrets included).
    throw new CliError(
      ExitCode.Usage,
      `--socket-mode ${raw} lets every user of the host read the group's config; use at most 0770`,
    );
  }
  return mode;
}
