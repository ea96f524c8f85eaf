import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";

import { registerCompletionCommand } from "../completion/completion-command";
import type { CliIo } from "../program";
import { registerConfigReadCommands } from "./config-read-commands";
import { registerConfigWatchCommand } from "./config-watch-command";
import { registerConfigWriteCommands } from "./config-write-commands";
import { registerContextCommands } from "./context-command";
import { registerEventsCommand } from "./events-command";
import { registerGroupCommands } from "./group-command";
import { registerJoinCommand } from "./join-command";
import { registerLoginCommands } from "./login-command";
import { registerNodesCommand } from "./nodes-command";
import { registerStatusCommand } from "./status-command";

/** Registers the global options and the operator commands (login, context, group, join, get/put/…, nodes, events, status). */
export function registerCommands(program: Command, io: CliIo): void {
  program
    // Each command's help lists the global options too (--json, --context…).
    .configureHelp({ showGlobalOptions: true })
    .version(cliVersion(), "-V, --version", "print kon's version")
    .option("--context <name>", "use this context instead of the current one (KON_CONTEXT)")
    .option("--token <token>", "API token to send instead of the stored session (KON_API_TOKEN)")
    .option("--json", "print results as JSON (shapes documented in the README)")
    .option("-q, --quiet", "print only ids, keys or values")
    .option("--no-color", "no colour even on a terminal (NO_COLOR does the same)");
  registerLoginCommands(program, io);
  registerContextCommands(program, io);
  registerGroupCommands(program, io);
  registerJoinCommand(program, io);
  registerConfigReadCommands(program, io);
  registerConfigWriteCommands(program, io);
  registerConfigWatchCommand(program, io);
  registerNodesCommand(program, io);
  registerEventsCommand(program, io);
  registerStatusCommand(program, io);
  registerCompletionCommand(program, io);
}

/** The version of this package (dist/commands and src/commands are both two levels below it). */
function cliVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}
