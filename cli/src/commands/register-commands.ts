import type { Command } from "commander";

import type { CliIo } from "../program";

/** Registers the operator commands (login, context, group, join, get/put/…, nodes, events, status). */
export function registerCommands(program: Command, io: CliIo): void {
  void program;
  void io;
}
