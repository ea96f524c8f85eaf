/** `@konorkestra/cli`: the `kon` program, for embedding and tests. The binary is `kon` (bin.ts). */
export { buildProgram, runCli } from "./program";
export type { CliIo } from "./program";
export { CliError, ExitCode } from "./exit-codes";
