import type { Command } from "commander";
import { z } from "zod";

import { parseAnswer } from "../client/admin-groups";
import { CliError, ExitCode } from "../exit-codes";
import type { CliIo } from "../program";
import { parseDuration, parsePollInterval } from "./duration";
import { groupArg } from "./group-command";
import { action } from "./invocation";
import type { Invocation } from "./invocation";
import { countOption, pollLoop } from "./poll-loop";

/** One event as `kon events` shows it (and prints with --json). */
export interface FleetEvent {
  /** Stable id: analytics' event id for config events, group/node/kind/time for node events. */
  id: string;
  atMs: number;
  kind: string;
  group: string;
  node: string | null;
  key: string | null;
  revision: number | null;
  detail: string;
}

const configChange = z.looseObject({
  atMs: z.number(),
  eventId: z.string(),
  group: z.string(),
  key: z.string(),
  kind: z.string(),
  revision: z.number().nullable(),
  nodeId: z.string().nullable(),
  author: z.string().nullable(),
  error: z.looseObject({ reason: z.string(), file: z.string().nullable() }).nullable(),
});
const incident = z.looseObject({
  group: z.string(),
  node: z.string(),
  startMs: z.number(),
  endMs: z.number().nullable(),
  cause: z.string(),
  suspect: z.boolean(),
});

interface EventsFlags {
  group?: string;
  since: string;
  limit: string;
  follow?: boolean;
  interval: string;
  count?: number;
}

/** `kon events [--group G] [--follow]`: node and config events, from analytics. */
export function registerEventsCommand(program: Command, io: CliIo): void {
  program
    .command("events")
    .description("node downs/ups and config changes (from analytics), oldest first")
    .option("-g, --group <group>", "only this group")
    .option("--since <duration>", "how far back to start", "1h")
    .option("--limit <n>", "at most this many config events per request (1-1000)", "100")
    .option("-f, --follow", "keep printing new events as they arrive (JSON lines with --json)")
    .option("--interval <duration>", "how often --follow asks", "2s")
    .option("--count <n>", "with --follow: stop after n polls", countOption)
    .action(action(io, events));
}

/** Node events out of analytics' incidents: the down (or leave) that began one, the up that ended it. */
function nodeEvents(list: z.infer<typeof incident>[]): FleetEvent[] {
  return list.flatMap((i) => {
    const down = i.cause === "clean leave" ? "node.left" : "node.down";
    const out: FleetEvent[] = [
      {
        id: `${i.group}/${i.node}/${down}/${i.startMs}`,
        atMs: i.startMs,
        kind: down,
        group: i.group,
        node: i.node,
        key: null,
        revision: null,
        detail: i.suspect ? "one of many at once (suspect)" : i.cause,
      },
    ];
    if (i.endMs !== null) {
      out.push({
        id: `${i.group}/${i.node}/node.up/${i.endMs}`,
        atMs: i.endMs,
        kind: "node.up",
        group: i.group,
        node: i.node,
        key: null,
        revision: null,
        detail: `after ${Math.round((i.endMs - i.startMs) / 1000)} s`,
      });
    }
    return out;
  });
}

function configEvents(list: z.infer<typeof configChange>[]): FleetEvent[] {
  return list.map((c) => ({
    id: c.eventId,
    atMs: c.atMs,
    kind: `config.${c.kind}`,
    group: c.group,
    node: c.nodeId,
    key: c.key || null,
    revision: c.revision,
    detail: c.error
      ? `${c.error.file ? `${c.error.file}: ` : ""}${c.error.reason}`
      : (c.author ?? ""),
  }));
}

async function fetchEvents(
  inv: Invocation,
  group: string | undefined,
  fromMs: number,
  limit: string,
): Promise<FleetEvent[]> {
  const api = inv.client("analytics");
  const [h, i] = await Promise.all([
    api.get("/v1/config/history", { query: { group, from: fromMs, limit } }),
    api.get("/v1/incidents", { query: { group, from: fromMs } }),
  ]);
  const changes = parseAnswer(
    z.looseObject({ changes: z.array(configChange) }),
    h,
    "analytics GET /v1/config/history",
  );
  const incidents = parseAnswer(
    z.looseObject({ incidents: z.array(incident) }),
    i,
    "analytics GET /v1/incidents",
  );
  return [...configEvents(changes.changes), ...nodeEvents(incidents.incidents)]
    .filter((e) => e.atMs >= fromMs)
    .sort((a, b) => a.atMs - b.atMs || a.id.localeCompare(b.id));
}

/** The events table rows (exported for golden tests). */
export function eventRows(list: readonly FleetEvent[]): string[][] {
  return list.map((e) => [
    new Date(e.atMs).toISOString(),
    e.kind,
    e.group,
    e.node ?? e.key ?? "-",
    e.revision === null ? "-" : String(e.revision),
    e.detail || "-",
  ]);
}

export const EVENT_HEAD = ["TIME", "KIND", "GROUP", "NODE/KEY", "REV", "DETAIL"];

async function events(inv: Invocation, flags: EventsFlags): Promise<void> {
  const group = flags.group === undefined ? undefined : groupArg(flags.group);
  const fromMs = Date.now() - parseDuration(flags.since, "--since");
  if (fromMs < 0) {
    throw new CliError(ExitCode.Usage, `--since ${flags.since} reaches back before 1970`, {
      hint: "nothing is older than the stack; e.g. --since 30d",
    });
  }
  if (!flags.follow) {
    const list = await fetchEvents(inv, group, fromMs, flags.limit);
    inv.out.result({
      json: { fromMs, events: list },
      quiet: list.map((e) => e.id),
      human: (o) => (list.length ? o.table(EVENT_HEAD, eventRows(list)) : o.line("no events")),
    });
    return;
  }
  const seen = new Set<string>();
  let from = fromMs;
  // Analytics stores an event some time after it happened: ask again a minute back, skip repeats.
  const LATE_MS = 60_000;
  await pollLoop(
    inv.io,
    parsePollInterval(flags.interval, "--interval"),
    flags.count,
    async (n) => {
      const fresh = (await fetchEvents(inv, group, from, flags.limit)).filter(
        (e) => !seen.has(e.id),
      );
      for (const e of fresh) seen.add(e.id);
      if (fresh.length) from = Math.max(from, fresh[fresh.length - 1]!.atMs - LATE_MS);
      if (inv.out.mode === "json") for (const e of fresh) inv.out.jsonLine(e);
      else if (inv.out.mode === "quiet") for (const e of fresh) inv.out.line(e.id);
      else if (n === 1 && fresh.length) inv.out.table(EVENT_HEAD, eventRows(fresh));
      // Later events come one line each: a table cannot be aligned with rows not seen yet.
      else for (const row of eventRows(fresh)) inv.out.line(row.join("  "));
    },
  );
}
