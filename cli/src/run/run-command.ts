import type { Command } from "commander";

import type { CliIo } from "../program";

/** Registers `kon run`. */
export function registerRunCommand(program: Command, io: CliIo): void {
  void program;
  void io;
}
