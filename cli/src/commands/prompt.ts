import { CliError, ExitCode } from "../exit-codes";
import type { CliIo } from "../program";

type Stdin = NonNullable<CliIo["stdin"]>;

function stdinOf(io: CliIo): Stdin {
  return io.stdin ?? process.stdin;
}

/** Reads all of stdin (for `kon put -` and `--password-stdin`), at most `limit` bytes. */
export async function readStdin(io: CliIo, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stdinOf(io)) {
    const b = typeof c === "string" ? Buffer.from(c) : c;
    size += b.length;
    if (size > limit) {
      throw new CliError(ExitCode.Failed, `stdin holds more than ${limit} bytes`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** The first line of stdin, without its line end (a secret piped in by a script). */
export async function readSecretLine(io: CliIo, what: string): Promise<string> {
  const text = (await readStdin(io, 64 * 1024)).toString("utf8");
  const line = text.split(/\r?\n/)[0] ?? "";
  if (!line) throw new CliError(ExitCode.Usage, `no ${what} on stdin`);
  return line;
}

/** True when a person can answer a question (stdin and stderr are terminals). */
export function canPrompt(io: CliIo): boolean {
  return stdinOf(io).isTTY === true && (io.stderr as { isTTY?: boolean }).isTTY === true;
}

/**
 * Asks on stderr and reads one line from the terminal; with `hidden` the answer is not echoed
 * (a password). Only when {@link canPrompt}.
 */
export function ask(io: CliIo, question: string, hidden = false): Promise<string> {
  const input = stdinOf(io) as NodeJS.ReadStream;
  io.stderr.write(question);
  return new Promise<string>((resolve, reject) => {
    let answer = "";
    const raw = hidden && typeof input.setRawMode === "function";
    if (raw) input.setRawMode(true);
    input.setEncoding("utf8");
    const finish = (err?: Error) => {
      input.off("data", onData);
      if (raw) input.setRawMode(false);
      input.pause();
      if (hidden) io.stderr.write("\n");
      if (err) reject(err);
      else resolve(answer);
    };
    const onData = (chunk: string) => {
      const chars = [...chunk];
      for (let i = 0; i < chars.length; i++) {
        const ch = chars[i]!;
        if (ch === "\u0003") return finish(new CliError(ExitCode.Failed, "interrupted"));
        if (ch === "\r" || ch === "\n") {
          // Pasted text may hold the next answer too: leave it for the next question.
          const rest = chars
            .slice(i + 1)
            .join("")
            .replace(/^\n/, "");
          finish();
          if (rest) input.unshift(rest);
          return;
        }
        if (ch === "\u007f" || ch === "\b") answer = answer.slice(0, -1);
        else answer += ch;
      }
    };
    input.on("data", onData);
    input.resume();
  });
}
