import { KonError, KonErrorCode } from "@konorkestra/sdk";
import type { ConfigEventStore } from "../store/config-event-store";
import type { EventStore, NodeHistory } from "../store/event-store";
import { nodeMapKey } from "../model/fleet-node";
import type { FleetStore, NodeListQuery } from "../store/fleet-store";
import type { KvConfigReader } from "../store/kv-config-reader";
import { computeDrift, withLastChanges } from "./drift";
import { driftedOnPage, summarizeDrift } from "./drift-summary";
import type { DriftedNode, GroupDriftSummary } from "./drift-summary";
import type { GroupDrift } from "./drift";
import { incidentsOf, overlaps } from "./incidents";
import type { Incident } from "./incidents";
import { computeReliability } from "./reliability";
import type { Reliability } from "./reliability";
import { stateIntervals, stateTotals } from "./state-intervals";
import type { StateInterval } from "./state-intervals";
import { computeUptime } from "./uptime";
import type { Uptime } from "./uptime";

/**
 * Groups whose config history (and KV bucket) a drift answer reads at the same time: the API's
 * pool has 4 connections by default, and a fleet of hundreds of groups must neither wait for them
 * one round trip after another nor take them all (and the pool's queue) for one request.
 */
const GROUP_READS_AT_ONCE = 4;

/** `fn` of every item, at most `limit` running at a time; results in the items' order. */
async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** A node's states over a window, for the timeline. */
export interface Timeline {
  group: string;
  node: string;
  fromMs: number;
  toMs: number;
  intervals: StateInterval[];
  /** FLAPPING events in the window. */
  flappingMs: number[];
}

/** Filter of {@link FleetQueries.incidents}. */
export interface IncidentFilter {
  group?: string;
  node?: string;
  /** true: only incidents still going on; false: only ended ones; undefined: both. */
  open?: boolean;
  fromMs: number;
  toMs: number;
}

/**
 * The questions the API answers, built from the stores and the pure domain functions. Uptime,
 * timelines, incidents and reliability all derive from node_events state changes (never from
 * heartbeat counts), with the state at a window's start taken from the event before it.
 */
export class FleetQueries {
  constructor(
    private readonly fleet: FleetStore,
    private readonly events: EventStore,
    private readonly kv: KvConfigReader,
    /** The config history; without it drift has no lastPublished / lastRejection. */
    private readonly configEvents?: ConfigEventStore,
  ) {}

  async uptime(group: string, node: string, fromMs: number, toMs: number): Promise<Uptime> {
    const h = await this.history(group, node, fromMs, toMs);
    return computeUptime(h.edge, h.events, fromMs, toMs);
  }

  async timeline(group: string, node: string, fromMs: number, toMs: number): Promise<Timeline> {
    const h = await this.history(group, node, fromMs, toMs);
    return {
      group,
      node,
      fromMs,
      toMs,
      intervals: stateIntervals(h.edge, h.events, fromMs, toMs),
      flappingMs: h.flappingMs,
    };
  }

  /**
   * Incidents overlapping [fromMs, toMs]. Histories are read up to now so that an incident that
   * outlasts the window gets its real end (or stays open).
   */
  async incidents(f: IncidentFilter, nowMs = Date.now()): Promise<Incident[]> {
    const histories = await this.events.histories(f, f.fromMs, nowMs);
    return histories
      .flatMap((h) =>
        incidentsOf(h.group, h.node, stateIntervals(h.edge, h.events, f.fromMs, nowMs), nowMs),
      )
      .filter((i) => overlaps(i, f.fromMs, f.toMs))
      .filter((i) => f.open === undefined || i.open === f.open)
      .sort((a, b) => b.startMs - a.startMs || a.node.localeCompare(b.node));
  }

  async reliability(
    group: string | undefined,
    fromMs: number,
    toMs: number,
    nowMs = Date.now(),
  ): Promise<Reliability> {
    const histories = await this.events.histories({ group }, fromMs, nowMs);
    const nodes = [];
    const incidents: Incident[] = [];
    for (const h of histories) {
      const toNow = stateIntervals(h.edge, h.events, fromMs, nowMs);
      incidents.push(...incidentsOf(h.group, h.node, toNow, nowMs));
      const inWindow = stateIntervals(
        h.edge,
        h.events.filter((e) => e.atMs <= toMs),
        fromMs,
        toMs,
      );
      nodes.push({ group: h.group, node: h.node, upMs: stateTotals(inWindow).upMs });
    }
    return computeReliability(nodes, incidents, fromMs, toMs, nowMs);
  }

  /**
   * Config drift per group. Nodes the monitor reports down or left are not counted: they run
   * nothing now, and their last report would show as drift forever. Each key also gets its last
   * published and last rejected event from the config history (who, when, why).
   */
  async drift(group?: string): Promise<GroupDrift[]> {
    const nodes = (await this.fleet.nodes({ group })).filter(
      (n) => n.liveness !== "down" && n.liveness !== "left",
    );
    const groups = [...new Set(nodes.map((n) => n.group))];
    if (group && !groups.includes(group)) groups.push(group);
    return mapBounded(groups.sort(), GROUP_READS_AT_ONCE, async (g) => {
      const [latest, changes] = await Promise.all([
        this.kv.latest(g),
        this.configEvents?.lastChanges(g),
      ]);
      const drift = computeDrift(
        g,
        latest,
        nodes.filter((n) => n.group === g),
      );
      return changes ? withLastChanges(drift, changes) : drift;
    });
  }

  /**
   * {@link drift} as counts (no node lists), from PostgreSQL's tallies: what a dashboard shows
   * each refresh. With `page` (a /v1/nodes page), also the drifting nodes of that page.
   */
  async driftSummary(
    group?: string,
    page?: NodeListQuery & { limit: number },
  ): Promise<{ groups: GroupDriftSummary[]; page?: DriftedNode[] }> {
    const [{ live, revisions }, pageNodes] = await Promise.all([
      this.fleet.revisionCounts(group),
      page ? this.fleet.pageNodes(page) : undefined,
    ]);
    const groups = live.map((l) => l.group);
    if (group && !groups.includes(group)) groups.push(group);
    for (const n of pageNodes ?? []) if (!groups.includes(n.group)) groups.push(n.group);
    const latestOf = new Map(
      await Promise.all(groups.map(async (g) => [g, await this.kv.latest(g)] as const)),
    );
    const shown = groups.filter((x) => x === group || live.some((l) => l.group === x)).sort();
    const out = await mapBounded(shown, GROUP_READS_AT_ONCE, async (g) => {
      const summary = summarizeDrift(
        g,
        latestOf.get(g),
        live.find((l) => l.group === g)?.n ?? 0,
        revisions.filter((r) => r.group === g),
      );
      const changes = await this.configEvents?.lastChanges(g);
      return changes ? withLastChanges(summary, changes) : summary;
    });
    return pageNodes ? { groups: out, page: driftedOnPage(pageNodes, latestOf) } : { groups: out };
  }

  /** Uptime of every node of a /v1/nodes page over [fromMs, toMs], in one pass. */
  async pageUptime(
    page: NodeListQuery & { limit: number },
    fromMs: number,
    toMs: number,
  ): Promise<({ group: string; node: string } & Uptime)[]> {
    const nodes = await this.fleet.pageNodes(page);
    const histories = await this.events.historiesOfNodes(nodes, fromMs, toMs);
    const byKey = new Map(histories.map((h) => [nodeMapKey(h.group, h.node), h]));
    return nodes.map((n) => {
      const h = byKey.get(nodeMapKey(n.group, n.node));
      return {
        group: n.group,
        node: n.node,
        ...computeUptime(h?.edge, h?.events ?? [], fromMs, toMs),
      };
    });
  }

  private async history(
    group: string,
    node: string,
    fromMs: number,
    toMs: number,
  ): Promise<NodeHistory> {
    const [h] = await this.events.histories({ group, node }, fromMs, toMs);
    if (h) return h;
    // Known from heartbeats only (no monitor event yet): nothing to measure, but not unknown.
    if ((await this.fleet.nodes({ group, node })).length > 0) {
      return { group, node, events: [], flappingMs: [] };
    }
    throw new KonError(KonErrorCode.NotFound, `node ${group}/${node} is not known to analytics`);
  }
}
