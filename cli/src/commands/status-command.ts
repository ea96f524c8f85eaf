import type { Command } from "commander";

import { HttpClient } from "../client/http-client";
import { probeNats } from "../client/nats-probe";
import { CliError, ExitCode } from "../exit-codes";
import type { CliIo } from "../program";
import { action } from "./invocation";
import type { Invocation, ServiceName } from "./invocation";

/** One row of `kon status`. */
export interface ComponentStatus {
  component: string;
  url: string;
  state: "ok" | "degraded" | "unreachable";
  version: string | null;
  /** Short words on what the component reported (its checks, its lag). */
  detail: string;
  /** What the component answered, as it answered it (null when unreachable). */
  health: unknown;
}

const PROBE_TIMEOUT_MS = 3000;
const SERVICES: readonly ServiceName[] = ["admin", "loader", "monitor", "analytics"];

/** `kon status`: health of each service and of NATS, versions, and the ingest lag. */
export function registerStatusCommand(program: Command, io: CliIo): void {
  program
    .command("status")
    .description(
      "health and versions of the stack (admin, loader, monitor, analytics, NATS) and ingest lag",
    )
    .action(action(io, status));
}

async function status(inv: Invocation): Promise<void> {
  const s = inv.stack;
  const progress = inv.out.progress("asking every component");
  let rows: ComponentStatus[];
  try {
    rows = await Promise.all([
      ...SERVICES.map((svc) => probeService(inv, svc)),
      ...s.natsUrl.split(",").map((u) => probeNatsRow(u.trim())),
    ]);
  } finally {
    progress.done();
  }
  const lag = await ingestLag(inv);
  const analytics = rows.find((r) => r.component === "analytics");
  if (analytics && lag.text) analytics.detail += `; ${lag.text}`;
  inv.out.result({
    json: { context: s.context, components: rows, lag: lag.value },
    quiet: rows.filter((r) => r.state !== "ok").map((r) => r.component),
    human: (o) =>
      o.table(
        ["COMPONENT", "STATE", "VERSION", "URL", "DETAIL"],
        rows.map((r) => [
          r.component,
          r.state === "ok" ? o.colors.green(r.state) : o.colors.red(r.state),
          r.version ?? "-",
          r.url,
          r.detail,
        ]),
      ),
  });
  const bad = rows.filter((r) => r.state !== "ok");
  if (bad.length > 0) {
    const unreachable = bad.every((r) => r.state === "unreachable");
    throw new CliError(
      unreachable ? ExitCode.Unreachable : ExitCode.Failed,
      `${bad.length} of ${rows.length} components not ok: ${bad.map((r) => `${r.component} ${r.state}`).join(", ")}`,
      bad.length === rows.length
        ? { hint: `is the stack up ('make up')? context '${s.context}': see 'kon context show'` }
        : undefined,
    );
  }
}

async function probeService(inv: Invocation, svc: ServiceName): Promise<ComponentStatus> {
  const url = inv.client(svc, false).baseUrl;
  const http = new HttpClient(`${svc} API`, url, undefined, {
    caFile: inv.stack.caFile,
    timeoutMs: PROBE_TIMEOUT_MS,
  });
  try {
    const a = await http.call("GET", "/healthz", { allowError: true });
    const body = (a.body ?? {}) as Record<string, unknown>;
    return {
      component: svc,
      url,
      state: a.status === 200 ? "ok" : "degraded",
      version: typeof body.version === "string" ? body.version : null,
      detail: a.status === 200 || a.status === 503 ? healthWords(body) : `HTTP ${a.status}`,
      health: a.body ?? null,
    };
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    const why = err.message.replace(/^.*: /, "");
    return { component: svc, url, state: "unreachable", version: null, detail: why, health: null };
  }
}

/**
 * Flags a /healthz raises when something is wrong (the monitor's `blind`: it cannot see the
 * heartbeat stream), unlike `postgres: true`. Shown only when raised.
 */
const BAD_WHEN_TRUE = new Set(["blind"]);

/** `postgres ok, nats FAIL, …` from the booleans (and `{ ok }` objects) a /healthz answered. */
function healthWords(body: Record<string, unknown>): string {
  const words: string[] = [];
  const visit = (obj: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      if (k === "ok" || k === "status") continue;
      if (typeof v === "boolean" && BAD_WHEN_TRUE.has(k)) {
        if (v) words.push(`${prefix}${k} FAIL`);
      } else if (typeof v === "boolean") words.push(`${prefix}${k} ${v ? "ok" : "FAIL"}`);
      else if (v && typeof v === "object" && !Array.isArray(v)) {
        const ok = (v as { ok?: unknown }).ok;
        if (typeof ok === "boolean") words.push(`${prefix}${k} ${ok ? "ok" : "FAIL"}`);
        else if (k === "checks") visit(v as Record<string, unknown>, "");
      }
    }
  };
  visit(body, "");
  if (typeof body.reason === "string") words.push(body.reason);
  return words.join(", ") || "-";
}

async function probeNatsRow(url: string): Promise<ComponentStatus> {
  const info = await probeNats(url, PROBE_TIMEOUT_MS);
  const detail = info.ok
    ? [
        info.serverName,
        info.jetstream ? "jetstream" : "no jetstream",
        info.tlsRequired ? "tls" : "",
      ]
        .filter(Boolean)
        .join(", ")
    : (info.error ?? "-");
  return {
    component: "nats",
    url,
    state: info.ok ? (info.jetstream ? "ok" : "degraded") : "unreachable",
    version: info.version ?? null,
    detail,
    health: info.ok ? info : null,
  };
}

interface PipelineStream {
  kind?: string;
  lag?: { pending: number; ackPending: number } | null;
}

/** Messages analytics has not ingested yet, per stream (from /v1/pipeline; needs a read token). */
async function ingestLag(
  inv: Invocation,
): Promise<{ value: Record<string, number> | null; text: string }> {
  try {
    const p = await inv.client("analytics").get<{ streams?: PipelineStream[] }>("/v1/pipeline");
    const value: Record<string, number> = {};
    for (const s of p.streams ?? []) {
      if (s.kind && s.lag) value[s.kind] = s.lag.pending + s.lag.ackPending;
    }
    const text = `lag ${
      Object.entries(value)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ") || "unknown"
    }`;
    return { value, text };
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    return {
      value: null,
      text: err.exitCode === ExitCode.Refused ? "lag unknown (needs a read token)" : "",
    };
  }
}
