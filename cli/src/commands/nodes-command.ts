import type { Command } from "commander";
import { z } from "zod";

import { parseAnswer } from "../client/admin-groups";
import type { CliIo } from "../program";
import type { Output } from "../output/output";
import { formatAge, parsePollInterval } from "./duration";
import { groupArg } from "./group-command";
import { action } from "./invocation";
import type { Invocation } from "./invocation";
import { countOption, pollLoop } from "./poll-loop";

/** A node as the liveness monitor's `/v1/nodes` lists it (fields kon shows; others pass through). */
export const monitorNodeSchema = z.looseObject({
  group: z.string(),
  node: z.string(),
  status: z.string(),
  lastHeartbeatAtMs: z.number(),
  ageMs: z.number(),
  intervalMs: z.number(),
  instanceId: z.string(),
  suspect: z.boolean(),
  config: z.record(
    z.string(),
    z.looseObject({
      revision: z.number(),
      rejectedRevision: z.number(),
      pendingRevision: z.number(),
    }),
  ),
});
export type MonitorNode = z.infer<typeof monitorNodeSchema>;

const nodesAnswer = z.looseObject({
  monitorId: z.string(),
  asOfMs: z.number(),
  count: z.number(),
  nodes: z.array(monitorNodeSchema),
});

interface NodesFlags {
  group?: string;
  watch?: boolean;
  interval: string;
  count?: number;
}

/** `kon nodes [--group G] [--watch]`: the liveness monitor's view of the fleet. */
export function registerNodesCommand(program: Command, io: CliIo): void {
  program
    .command("nodes")
    .description("nodes the liveness monitor knows: status, last heartbeat, config revisions")
    .option("-g, --group <group>", "only this group")
    .option("-w, --watch", "keep refreshing (one JSON document per line with --json)")
    .option("--interval <duration>", "refresh interval of --watch", "2s")
    .option("--count <n>", "with --watch: stop after n refreshes", countOption)
    .action(action(io, nodes));
}

async function fetchNodes(inv: Invocation, group: string | undefined) {
  const body = await inv.client("monitor").get("/v1/nodes", { query: { group } });
  const answer = parseAnswer(nodesAnswer, body, "monitor GET /v1/nodes");
  answer.nodes.sort((a, b) => a.group.localeCompare(b.group) || a.node.localeCompare(b.node));
  return answer;
}

/** `key@rev`, `!N` when revision N was refused, `→N` while N waits for its activation time. */
export function configCell(n: MonitorNode): string {
  return (
    Object.entries(n.config)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, c]) => {
        const refused = c.rejectedRevision > 0 ? `!${c.rejectedRevision}` : "";
        const pending = c.pendingRevision > 0 ? `→${c.pendingRevision}` : "";
        return `${k}@${c.revision}${refused}${pending}`;
      })
      .join(" ") || "-"
  );
}

/** The rows of the nodes table (exported for golden tests). */
export function nodeRows(nodes: readonly MonitorNode[]): string[][] {
  return nodes.map((n) => [
    n.group,
    n.node,
    n.suspect && n.status === "down" ? "down (mass)" : n.status,
    n.lastHeartbeatAtMs > 0 ? `${formatAge(n.ageMs)} ago` : "-",
    formatAge(n.intervalMs),
    configCell(n),
  ]);
}

export const NODE_HEAD = ["GROUP", "NODE", "STATUS", "LAST BEAT", "INTERVAL", "CONFIG"];

function draw(o: Output, nodes: readonly MonitorNode[]): void {
  if (nodes.length === 0) o.line("no nodes");
  else o.table(NODE_HEAD, nodeRows(nodes));
}

async function nodes(inv: Invocation, flags: NodesFlags): Promise<void> {
  const group = flags.group === undefined ? undefined : groupArg(flags.group);
  if (!flags.watch) {
    const a = await fetchNodes(inv, group);
    inv.out.result({
      json: a,
      quiet: a.nodes.map((n) => `${n.group}.${n.node}`),
      human: (o) => draw(o, a.nodes),
    });
    return;
  }
  const intervalMs = parsePollInterval(flags.interval, "--interval");
  const tty = (inv.io.stdout as { isTTY?: boolean }).isTTY === true;
  await pollLoop(inv.io, intervalMs, flags.count, async () => {
    const a = await fetchNodes(inv, group);
    if (inv.out.mode === "json") return inv.out.jsonLine(a);
    if (inv.out.mode === "quiet")
      return inv.out.line(a.nodes.map((n) => `${n.group}.${n.node}`).join(" "));
    // On a terminal redraw in place, as watch(1) does; in a pipe, one table after another.
    if (tty) inv.io.stdout.write("\x1b[H\x1b[2J");
    inv.out.line(
      inv.out.colors.dim(
        `${new Date(a.asOfMs).toISOString()}  monitor ${a.monitorId}  ${a.count} node(s)`,
      ),
    );
    draw(inv.out, a.nodes);
    if (!tty) inv.out.line();
  });
}
