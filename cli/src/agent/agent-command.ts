import type { Command } from "commander";

import type { CliIo } from "../program";

/** Registers `kon agent`. */
export function registerAgentCommand(program: Command, io: CliIo): void {
  void program;
  void io;
}
