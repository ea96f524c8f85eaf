import type { Command } from "commander";

import { ConfigStore, configDir } from "../client/config-store";
import { HttpClient } from "../client/http-client";
import { SessionTokens } from "../client/session-tokens";
import { resolveStack } from "../client/stack-resolver";
import type { ResolvedStack } from "../client/stack-resolver";
import { CliError, ExitCode } from "../exit-codes";
import { Output } from "../output/output";
import type { CliIo } from "../program";

/** The options every command has (registered on the program). */
export interface GlobalFlags {
  context?: string;
  token?: string;
  json?: boolean;
  quiet?: boolean;
  color: boolean;
}

/** The services a command may call, each by its HTTP API. */
export type ServiceName = "admin" | "monitor" | "analytics" | "loader";

/**
 * What one run of a command works with: its output, the config dir, the resolved stack and
 * clients of its services, built lazily so `kon context …` works with no stack at all.
 */
export class Invocation {
  readonly out: Output;
  readonly store: ConfigStore;
  private resolved: ResolvedStack | undefined;
  private sessionTokens: SessionTokens | undefined;

  constructor(
    readonly io: CliIo,
    readonly flags: GlobalFlags,
  ) {
    if (flags.json && flags.quiet) {
      throw new CliError(ExitCode.Usage, "--json and --quiet cannot be used together");
    }
    const mode = flags.json ? "json" : flags.quiet ? "quiet" : "human";
    this.out = new Output(
      mode,
      io.stdout,
      io.stderr,
      Output.colorWanted(io.stdout, io.env, flags.color),
    );
    this.store = new ConfigStore(configDir(io.env));
  }

  get stack(): ResolvedStack {
    this.resolved ??= resolveStack(this.flags, this.io.env, this.store);
    return this.resolved;
  }

  /** The token of this run: --token, KON_API_TOKEN, else the context's stored credential. */
  get tokens(): SessionTokens {
    if (!this.sessionTokens) {
      const env = this.io.env.KON_API_TOKEN || undefined;
      const explicit = this.flags.token
        ? { token: this.flags.token, origin: "flag" as const }
        : env
          ? { token: env, origin: "env" as const }
          : undefined;
      this.sessionTokens = new SessionTokens(
        this.store,
        this.stack.context,
        this.client("admin", false),
        explicit,
      );
    }
    return this.sessionTokens;
  }

  /** A client of one service's API; with `auth` (default) it sends this run's token. */
  client(service: ServiceName, auth = true): HttpClient {
    const s = this.stack;
    const base = {
      admin: s.adminUrl,
      monitor: s.monitorUrl,
      analytics: s.analyticsUrl,
      loader: s.loaderUrl,
    }[service];
    return new HttpClient(`${service} API`, base, auth ? this.tokens : undefined, {
      caFile: s.caFile,
    });
  }
}

/** The invocation of the command whose action is running. */
export function invocationOf(cmd: Command, io: CliIo): Invocation {
  return new Invocation(io, cmd.optsWithGlobals<GlobalFlags>());
}

/**
 * Wraps an action so it gets its {@link Invocation} first. Commander calls actions with the
 * arguments, then the options, then the command itself.
 */
export function action<A extends unknown[]>(
  io: CliIo,
  fn: (inv: Invocation, ...args: A) => Promise<void> | void,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    await fn(invocationOf(cmd, io), ...(args.slice(0, -1) as A));
  };
}
