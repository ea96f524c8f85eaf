import { CliError, ExitCode } from "../exit-codes";
import { CONTEXT_NAME } from "./config-store";
import type { ConfigStore, StackContext } from "./config-store";

/** Where a resolved setting came from, as `kon context show` says it. */
export type SettingSource = "env" | "context" | "default";

/** A field of a context, the environment variable that overrides it, and its local default. */
export const STACK_FIELDS = [
  { field: "adminUrl", env: "KON_ADMIN_URL", fallback: "http://127.0.0.1:7004" },
  { field: "analyticsUrl", env: "KON_ANALYTICS_URL", fallback: "http://127.0.0.1:7003" },
  { field: "monitorUrl", env: "KON_MONITOR_URL", fallback: "http://127.0.0.1:7002" },
  { field: "loaderUrl", env: "KON_LOADER_URL", fallback: "http://127.0.0.1:7001" },
  // The same variables the SDK reads, so one shell set-up serves a service and kon.
  { field: "natsUrl", env: "KON_SERVERS", fallback: "nats://127.0.0.1:4222" },
  { field: "caFile", env: "KON_TLS_CA", fallback: undefined },
] as const satisfies readonly {
  field: keyof StackContext;
  env: string;
  fallback: string | undefined;
}[];

/** The name of the context used when none was ever set. */
export const DEFAULT_CONTEXT = "local";

/** The effective stack of one invocation: the context, overridden by the environment. */
export interface ResolvedStack {
  context: string;
  /** True when the context exists in config.json (false: built-in local defaults). */
  stored: boolean;
  adminUrl: string;
  analyticsUrl: string;
  monitorUrl: string;
  loaderUrl: string;
  natsUrl: string;
  caFile: string | undefined;
  sources: Record<keyof StackContext, SettingSource>;
}

/** Global options that select the stack. */
export interface StackFlags {
  context?: string;
}

/** Which context this invocation uses: --context, then KON_CONTEXT, then the current one. */
export function contextName(flags: StackFlags, env: NodeJS.ProcessEnv, store: ConfigStore): string {
  const name = flags.context ?? (env.KON_CONTEXT || undefined) ?? store.readConfig().current;
  if (name !== undefined && !CONTEXT_NAME.test(name)) {
    throw new CliError(ExitCode.Usage, `invalid context name ${JSON.stringify(name)}`, {
      hint: "use 1-63 of [A-Za-z0-9._-], starting with a letter or digit",
    });
  }
  return name ?? DEFAULT_CONTEXT;
}

/** Resolves every setting of the stack and remembers where each came from. */
export function resolveStack(
  flags: StackFlags,
  env: NodeJS.ProcessEnv,
  store: ConfigStore,
): ResolvedStack {
  const context = contextName(flags, env, store);
  const saved = store.readConfig().contexts[context];
  if (!saved && context !== DEFAULT_CONTEXT && (flags.context || env.KON_CONTEXT)) {
    throw new CliError(ExitCode.NotFound, `no context named ${JSON.stringify(context)}`, {
      where: store.configFile,
      hint: "list them with 'kon context list'; create one with 'kon context set'",
    });
  }
  const out: Record<string, unknown> = { context, stored: saved !== undefined };
  const sources: Partial<Record<keyof StackContext, SettingSource>> = {};
  for (const f of STACK_FIELDS) {
    const fromEnv = env[f.env] || undefined;
    const fromCtx = saved?.[f.field];
    const [value, source]: [string | undefined, SettingSource] =
      fromEnv !== undefined
        ? [fromEnv, "env"]
        : fromCtx !== undefined
          ? [fromCtx, "context"]
          : [f.fallback, "default"];
    out[f.field] = f.field.endsWith("Url") && value ? value.replace(/\/+$/, "") : value;
    sources[f.field] = source;
  }
  return {
    ...(out as Omit<ResolvedStack, "sources">),
    sources: sources as ResolvedStack["sources"],
  };
}
