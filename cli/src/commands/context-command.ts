import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";

import { CONTEXT_NAME } from "../client/config-store";
import type { StackContext } from "../client/config-store";
import { DEFAULT_CONTEXT, STACK_FIELDS } from "../client/stack-resolver";
import { CliError, ExitCode } from "../exit-codes";
import type { CliIo } from "../program";
import { action } from "./invocation";
import type { Invocation } from "./invocation";

type SetFlags = Partial<StackContext> & { unset?: string[] };

/** `kon context list|use|set|delete|show`: several stacks, one of them current. */
export function registerContextCommands(program: Command, io: CliIo): void {
  const ctx = program
    .command("context")
    .description("stacks kon talks to (admin, analytics, monitor, loader URLs, NATS, CA file)");
  ctx.command("list").description("list contexts").action(action(io, list));
  ctx
    .command("use")
    .description("make a context the current one")
    .argument("<name>", "context name")
    .action(action(io, use));
  ctx
    .command("set")
    .description("create or change a context")
    .argument("<name>", "context name")
    .option("--admin-url <url>", "admin API, e.g. https://kon.example.org:7004")
    .option("--analytics-url <url>", "analytics API")
    .option("--monitor-url <url>", "liveness monitor API")
    .option("--loader-url <url>", "config-loader API")
    .option("--nats-url <url>", "NATS servers, comma-separated (for kon join)")
    .option("--ca-file <path>", "CA that signed the servers' certificates (PEM)")
    .option("--unset <field...>", `clear fields: ${STACK_FIELDS.map((f) => f.field).join(", ")}`)
    .action(action(io, set));
  ctx
    .command("delete")
    .description("delete a context and its stored token")
    .argument("<name>", "context name")
    .action(action(io, remove));
  ctx
    .command("show")
    .description("the settings in effect and where each comes from (env, context, default)")
    .action(action(io, show));
}

function checkName(name: string): string {
  if (!CONTEXT_NAME.test(name)) {
    throw new CliError(ExitCode.Usage, `invalid context name ${JSON.stringify(name)}`, {
      hint: "use 1-63 of [A-Za-z0-9._-], starting with a letter or digit",
    });
  }
  return name;
}

function list(inv: Invocation): void {
  const config = inv.store.readConfig();
  const rows = Object.entries(config.contexts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, c]) => {
      const cred = inv.store.credential(name);
      return {
        name,
        current: name === config.current,
        ...c,
        credential: cred?.kind ?? null,
        email: cred?.kind === "session" ? cred.email : null,
      };
    });
  inv.out.result({
    json: { current: config.current ?? null, contexts: rows },
    quiet: rows.map((r) => r.name),
    human: (o) => {
      if (rows.length === 0) {
        o.line(`no contexts yet; '${DEFAULT_CONTEXT}' (this machine's stack) is used`);
        return;
      }
      o.table(
        ["CURRENT", "NAME", "ADMIN", "ANALYTICS", "MONITOR", "SIGNED IN"],
        rows.map((r) => [
          r.current ? "*" : "",
          r.name,
          r.adminUrl ?? "(default)",
          r.analyticsUrl ?? "(default)",
          r.monitorUrl ?? "(default)",
          r.email ?? r.credential ?? "-",
        ]),
      );
    },
  });
}

function use(inv: Invocation, name: string): void {
  const config = inv.store.readConfig();
  if (!config.contexts[checkName(name)]) {
    throw new CliError(ExitCode.NotFound, `no context named '${name}'`, {
      where: inv.store.configFile,
      hint: "create it with 'kon context set'",
    });
  }
  config.current = name;
  inv.store.writeConfig(config);
  inv.out.result({
    json: { current: name },
    human: (o) => o.line(`now using context '${name}'`),
  });
}

function set(inv: Invocation, name: string, flags: SetFlags): void {
  const config = inv.store.readConfig();
  const ctx: StackContext = { ...config.contexts[checkName(name)] };
  for (const f of STACK_FIELDS) {
    const v = flags[f.field];
    if (v === undefined) continue;
    if (f.field.endsWith("Url")) checkUrl(f.field, v);
    ctx[f.field] = f.field === "caFile" ? resolve(v) : v;
  }
  for (const field of flags.unset ?? []) {
    const f = STACK_FIELDS.find((x) => x.field === field);
    if (!f) {
      throw new CliError(ExitCode.Usage, `--unset: no field '${field}'`, {
        hint: `use ${STACK_FIELDS.map((x) => x.field).join(", ")}`,
      });
    }
    delete ctx[f.field];
  }
  if (ctx.caFile && !existsSync(ctx.caFile)) inv.out.warn(`${ctx.caFile} does not exist (yet)`);
  const created = !config.contexts[name];
  config.contexts[name] = ctx;
  config.current ??= name;
  inv.store.writeConfig(config);
  inv.out.result({
    json: { name, created, current: config.current === name, ...ctx },
    human: (o) => o.line(`${created ? "created" : "updated"} context '${name}'`),
  });
}

/** The schemes each kind of URL may use: the APIs speak HTTP, NATS its own protocol. */
const API_SCHEMES = ["http:", "https:"];
const NATS_SCHEMES = ["nats:", "tls:", "ws:", "wss:"];

/**
 * A URL a context may keep: parses, has a scheme its client speaks (a `file:` admin URL was kept
 * and failed only later), and no user or password, as config.json holds no secrets.
 */
function checkUrl(field: string, value: string): void {
  const urls = field === "natsUrl" ? value.split(",") : [value];
  const schemes = field === "natsUrl" ? NATS_SCHEMES : API_SCHEMES;
  for (const u of urls) {
    let url: URL;
    try {
      url = new URL(u.trim());
    } catch {
      throw new CliError(ExitCode.Usage, `${field}: not a URL: ${JSON.stringify(u)}`);
    }
    if (!schemes.includes(url.protocol)) {
      throw new CliError(ExitCode.Usage, `${field}: ${url.protocol} URLs are not spoken here`, {
        hint: `use ${schemes.map((x) => `${x}//`).join(", ")}`,
      });
    }
    if (url.username || url.password) {
      throw new CliError(ExitCode.Usage, `${field}: a URL with a user or password`, {
        hint: "config.json keeps no secrets: sign in with 'kon login'; kon join uses the join key",
      });
    }
  }
}

async function remove(inv: Invocation, name: string): Promise<void> {
  const config = inv.store.readConfig();
  if (!config.contexts[checkName(name)]) {
    throw new CliError(ExitCode.NotFound, `no context named '${name}'`, {
      where: inv.store.configFile,
    });
  }
  delete config.contexts[name];
  if (config.current === name) delete config.current;
  inv.store.writeConfig(config);
  await inv.store.storeCredential(name, undefined);
  inv.out.result({
    json: { deleted: name },
    human: (o) => o.line(`deleted context '${name}'`),
  });
}

function show(inv: Invocation): void {
  const s = inv.stack;
  const settings = Object.fromEntries(
    STACK_FIELDS.map((f) => [
      f.field,
      { value: shown(s[f.field]) ?? null, source: s.sources[f.field] },
    ]),
  );
  const token = { origin: inv.tokens.origin, email: inv.tokens.email ?? null };
  inv.out.result({
    json: { context: s.context, stored: s.stored, configDir: inv.store.dir, settings, token },
    quiet: [s.context],
    human: (o) => {
      o.fields([
        ["context", `${s.context}${s.stored ? "" : " (built-in defaults)"}`],
        ["config dir", inv.store.dir],
      ]);
      o.line();
      o.table(
        ["SETTING", "VALUE", "FROM"],
        STACK_FIELDS.map((f) => [f.field, shown(s[f.field]) ?? "-", s.sources[f.field]]),
      );
      o.line();
      o.line(`token: ${token.origin}${token.email ? ` (${token.email})` : ""}`);
    },
  });
}

/** A setting as shown: a password in a URL (say from KON_SERVERS) is never printed. */
function shown(value: string | undefined): string | undefined {
  return value?.replace(/\/\/([^/@\s]*)@/g, "//***@");
}
