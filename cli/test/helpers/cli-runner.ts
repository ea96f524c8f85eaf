import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";

import { runCli } from "../../src/program";

/** What one run of `kon` printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A terminal's input: what a person types (raw mode is accepted and changes nothing). */
function typed(text: string): NodeJS.ReadableStream & { isTTY: boolean } {
  const s = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => s });
  s.end(text);
  return s;
}

/** Collects what a stream receives. */
function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
}

/**
 * Runs `kon` in-process, as `bin.ts` does, with captured streams, an environment of its own
 * (never the test process's KON_* variables) and a private config dir.
 */
export class CliRunner {
  readonly configDir: string;

  constructor(readonly baseEnv: NodeJS.ProcessEnv = {}) {
    this.configDir = mkdtempSync(join(tmpdir(), "kon-cli-"));
  }

  async run(
    args: readonly string[],
    opts: {
      env?: NodeJS.ProcessEnv;
      stdin?: string;
      signal?: AbortSignal;
      /** Sees stdout as it is written (to act once a watch has printed its first value). */
      onStdout?: (textSoFar: string) => void;
      /** stdin and stderr claim to be a terminal (prompts), `stdin` being what is typed. */
      tty?: boolean;
    } = {},
  ): Promise<CliRun> {
    const out = capture();
    if (opts.onStdout) out.stream.on("data", () => opts.onStdout!(out.text()));
    const err = capture();
    if (opts.tty) Object.assign(err.stream, { isTTY: true });
    const env = {
      PATH: process.env.PATH,
      HOME: this.configDir,
      XDG_CONFIG_HOME: this.configDir,
      ...this.baseEnv,
      ...opts.env,
    };
    const code = await runCli(["node", "kon", ...args], {
      stdout: out.stream,
      stderr: err.stream,
      env,
      stdin: opts.tty
        ? typed(opts.stdin ?? "")
        : Readable.from(opts.stdin === undefined ? [] : [Buffer.from(opts.stdin)]),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    await new Promise((r) => setImmediate(r));
    return { code, stdout: out.text(), stderr: err.text() };
  }

  /** Runs and parses stdout as JSON; fails the test with stderr when the command failed. */
  async json(args: readonly string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<unknown> {
    const r = await this.run(["--json", ...args], opts);
    if (r.code !== 0) throw new Error(`kon ${args.join(" ")} → ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as unknown;
  }

  cleanup(): void {
    rmSync(this.configDir, { recursive: true, force: true });
  }
}
