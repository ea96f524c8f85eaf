import { constants } from "node:os";
import type { Command } from "commander";
import { assertConfigKey } from "@konorkestra/sdk/internal";
import { parseMs } from "../agent/ms-flag";
import { stderrLogger } from "../agent/member-connection";
import { CliError, ExitCode } from "../exit-codes";
import type { CliIo } from "../program";
import { isEnvPrefix, renderTargetProblem } from "./config-output";
import { runSupervised } from "./run-session";
import type { RunSpec } from "./run-session";

interface RunFlags {
  key: string;
  group?: string;
  joinKeyFile?: string;
  node?: string;
  render?: string;
  env?: string;
  signal?: string;
  restart?: boolean;
  heartbeatInterval: string;
  grace: string;
}

/** Registers `kon run`. */
export function registerRunCommand(program: Command, io: CliIo): void {
  program
    .command("run")
    .description(
      "run a command under a config key: render it before the start, then signal or restart the command on each change",
    )
    .usage(
      "--key <key> [--render <file> | --env <prefix>] [--signal HUP | --restart] -- <command> [args...]",
    )
    .requiredOption("--key <key>", "config key to deliver")
    .option("--group <group>", "group to join (default: KON_GROUP)")
    .option("--join-key-file <file>", "file holding the group's join key (default: KON_JOIN_KEY)")
    .option(
      "--node <id>",
      "node id the heartbeats are sent as, without the -<key> suffix (default: KON_NODE_ID, else derived, plus -<key>; KON_NODE_ID_SUFFIX replaces -<key>)",
    )
    .option("--render <file>", "write the value as JSON to this file (atomically, 0600)")
    .option("--env <prefix>", "export the value as PREFIX_... variables (each change restarts)")
    .option("--signal <name>", "on a change, send this signal (HUP, USR1, ...)")
    .option("--restart", "on a change, restart the command (the default)")
    .option("--heartbeat-interval <ms>", "heartbeat period", "1000")
    .option(
      "--grace <ms>",
      "time between SIGTERM (a restart, or kon run told to stop) and SIGKILL",
      "10000",
    )
    .argument("<command>", "command to run")
    .argument("[args...]", "its arguments")
    .addHelpText(
      "after",
      `
Exit code: the command's (128 + n when a signal n ended it; 127 when it cannot be started).
A clean end (exit 0, or a SIGINT/SIGTERM passed on to it) sends a leaving heartbeat (node.left);
any other end stops the heartbeats without one, and the monitor reports node.down.`,
    )
    .action(async (command: string, args: string[], flags: RunFlags) => {
      const spec = runSpec(command, args, flags);
      process.exitCode = await runSupervised(spec, io.env, stderrLogger(io, "kon run"));
    });
}

function runSpec(command: string, args: string[], f: RunFlags): RunSpec {
  try {
    assertConfigKey(f.key);
  } catch (err) {
    throw usage((err as Error).message);
  }
  if ((f.render === undefined) === (f.env === undefined)) {
    throw usage("give one of --render <file> or --env <prefix>");
  }
  const renderProblem = f.render !== undefined ? renderTargetProblem(f.render) : undefined;
  if (renderProblem !== undefined) {
    throw usage(`cannot render to --render ${f.render}: ${renderProblem}`);
  }
  if (f.env !== undefined && !isEnvPrefix(f.env)) {
    throw usage(
      `invalid --env prefix ${JSON.stringify(f.env)}: use letters, digits and _, not starting with a digit`,
    );
  }
  if (f.signal !== undefined && f.restart) throw usage("give --signal or --restart, not both");
  if (f.signal !== undefined && f.env !== undefined) {
    throw usage(
      "--signal needs --render: a running process cannot see new environment variables (use --restart)",
    );
  }
  return {
    member: { group: f.group, joinKeyFile: f.joinKeyFile, node: f.node },
    key: f.key,
    renderFile: f.render,
    envPrefix: f.env,
    onChange: f.signal !== undefined ? { signal: signalName(f.signal) } : "restart",
    command,
    args,
    heartbeatIntervalMs: parseMs(f.heartbeatInterval, "--heartbeat-interval"),
    graceMs: parseMs(f.grace, "--grace"),
  };
}

/** `HUP`, `SIGHUP` or `hup` → `SIGHUP`; KILL and STOP are refused (they cannot mean reload). */
function signalName(raw: string): NodeJS.Signals {
  const name = (
    raw.toUpperCase().startsWith("SIG") ? raw.toUpperCase() : `SIG${raw.toUpperCase()}`
  ) as NodeJS.Signals;
  if (!(name in constants.signals) || name === "SIGKILL" || name === "SIGSTOP") {
    throw usage(`invalid --signal ${JSON.stringify(raw)}: use a signal name such as HUP or USR1`);
  }
  return name;
}

function usage(message: string): CliError {
  return new CliError(ExitCode.Usage, message);
}
