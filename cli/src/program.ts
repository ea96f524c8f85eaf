import { Command, CommanderError } from "commander";

import { registerAgentCommand } from "./agent/agent-command";
import { registerCommands } from "./commands/register-commands";
import { CliError, ExitCode } from "./exit-codes";
import { registerRunCommand } from "./run/run-command";

/** Streams a command writes to; tests pass their own. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  /** What `kon put -` and `--password-stdin` read. @default process.stdin */
  readonly stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Ends long-running commands (`--watch`, `--follow`) early, as Ctrl-C does. */
  readonly signal?: AbortSignal;
}

/** Builds the `kon` program. Each command family registers itself on it. */
export function buildProgram(io: CliIo): Command {
  const program = new Command("kon")
    .description("Konorkestra: fleet configuration kept in step, and who is alive")
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  registerCommands(program, io);
  registerAgentCommand(program, io);
  registerRunCommand(program, io);
  return program;
}

/** Runs `kon` with `argv` (node and script first, as process.argv) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const reader = watchReader(io);
  const program = buildProgram(reader.io);
  try {
    await program.parseAsync([...argv]);
    return process.exitCode === undefined ? ExitCode.Ok : Number(process.exitCode);
  } catch (err) {
    return reportError(err, io);
  } finally {
    reader.release();
  }
}

const readerGone = (err: NodeJS.ErrnoException): boolean =>
  err.code === "EPIPE" || err.code === "ERR_STREAM_DESTROYED";

/** Streams that already have {@link lateWriteErrors}' listener (one each, however many runs). */
const quietAfterRun = new WeakSet<NodeJS.WritableStream>();

/**
 * A write still in flight when the command returned (`kon get KEY | head`: a big value, the
 * reader gone) fails after {@link watchReader} has let go: its EPIPE is heard here and ignored
 * (the reader wanted no more), so kon ends with the command's own exit code, quietly.
 */
function lateWriteErrors(io: CliIo): void {
  if (quietAfterRun.has(io.stdout)) return;
  quietAfterRun.add(io.stdout);
  io.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (!readerGone(err)) io.stderr.write(`kon: cannot write the output: ${err.message}\n`);
  });
}

/**
 * `kon nodes --watch | head -3`: once whoever reads stdout has gone (EPIPE), writes fail with an
 * 'error' event that, unheard, kills the process with a stack trace. Hear it instead and end
 * `--watch`/`--follow` loops through the io's signal, as Ctrl-C does (exit 0). Every other
 * command ends quietly too: a write failing after the command returned is heard by
 * {@link lateWriteErrors}.
 */
function watchReader(io: CliIo): { io: CliIo; release: () => void } {
  const gone = new AbortController();
  const onError = (err: NodeJS.ErrnoException) => {
    if (readerGone(err)) gone.abort();
    else io.stderr.write(`kon: cannot write the output: ${err.message}\n`);
  };
  io.stdout.on("error", onError);
  const signal = io.signal ? AbortSignal.any([io.signal, gone.signal]) : gone.signal;
  return {
    io: { ...io, signal },
    release: () => {
      lateWriteErrors(io);
      io.stdout.off("error", onError);
    },
  };
}

function reportError(err: unknown, io: CliIo): number {
  if (err instanceof CommanderError) {
    // Help and version are exits with code 0; everything else commander refuses is usage.
    if (err.exitCode === 0) return ExitCode.Ok;
    return ExitCode.Usage;
  }
  if (err instanceof CliError) {
    const where = err.details?.where ? ` (${err.details.where})` : "";
    const code = err.details?.code ? ` [${err.details.code}]` : "";
    io.stderr.write(`kon: ${err.message}${where}${code}\n`);
    if (err.details?.hint) io.stderr.write(`hint: ${err.details.hint}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`kon: unexpected failure: ${message}\n`);
  return ExitCode.Failed;
}
