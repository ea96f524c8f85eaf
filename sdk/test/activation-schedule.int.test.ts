import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { Konorkestra, silentLogger } from "../src";
import { ensureConfigBucket, wireNames } from "../src/internal";
import { NodeProcess } from "./helpers/node-process";
import type { NodeLine } from "./helpers/node-process";
import { putConfig } from "./helpers/put-config";

// Scheduled activation across real member processes (sdk/test/fixtures/config-node-main.ts):
// one of them with its clock 3 s ahead, one started between the write and the instant (holds
// both values), one started after the instant, and a cancel before the instant.
jest.setTimeout(60_000);

const GROUP = "sched";
const KEY = "app";
/** How far off the instant a swap may land on this shared, busy 2-core machine. */
const TOLERANCE_MS = 250;

let nats: NatsServer;
let nc: NatsConnection;
let stateDir: string;
const nodes: NodeProcess[] = [];

function node(id: string, extra: Record<string, string> = {}): NodeProcess {
  const p = new NodeProcess({
    ...nats.clientEnv(),
    KON_GROUP: GROUP,
    KON_NODE_ID: id,
    KON_SNAPSHOT_DIR: mkdtempSync(join(stateDir, `${id}-`)),
    NODE_KEY: KEY,
    ...extra,
  });
  nodes.push(p);
  return p;
}

const ready = (p: NodeProcess): Promise<NodeLine> => p.waitFor((l) => l.ev === "ready", 45_000);
const changedTo = (p: NodeProcess, n: number): Promise<NodeLine> =>
  p.waitFor((l) => l.ev === "change" && l.value?.n === n, 20_000, `change to ${n}`);

beforeAll(async () => {
  nats = await startNats();
  nc = await connect(nats.clientOptions());
  await ensureConfigBucket(nc, wireNames(), GROUP, { replicas: 1 });
  stateDir = mkdtempSync(join(tmpdir(), "kon-activation-"));
});

afterAll(async () => {
  await Promise.all(nodes.map((p) => p.stop()));
  await nc?.close();
  await nats?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

describe("scheduled activation with real processes", () => {
  it("swaps at the instant everywhere, a skewed clock included; late and early starters agree", async () => {
    const r1 = await putConfig(nc, GROUP, KEY, { n: 1 });
    const a = node("a");
    const skewed = node("skewed", { KON_CLOCK_SKEW_MS: "3000" });
    const early = node("early", { NODE_WAIT: "1" });
    const lateNode = node("late", { NODE_WAIT: "1" });
    const waiting = (p: NodeProcess): Promise<NodeLine> =>
      p.waitFor((l) => l.ev === "waiting", 45_000);
    await Promise.all([ready(a), ready(skewed), waiting(early), waiting(lateNode)]);

    const instant = Date.now() + 7000;
    const r2 = await putConfig(
      nc,
      GROUP,
      KEY,
      { n: 2 },
      { activateAtMs: instant, previousRevision: r1 },
    );
    // Started between the write and the instant: runs revision 1, holds revision 2.
    early.send("go");
    const earlyReady = await ready(early);
    expect(earlyReady.at!).toBeLessThan(instant);
    expect(earlyReady.value).toEqual({ n: 1 });
    expect(earlyReady.rev).toBe(r1);
    expect(earlyReady.pending).toEqual({ value: { n: 2 }, revision: r2, activateAtMs: instant });
    for (const p of [a, skewed]) {
      const s = await p.state();
      expect(s.value).toEqual({ n: 1 });
      expect(s.pending?.revision).toBe(r2);
    }

    const swaps = await Promise.all([a, skewed, early].map((p) => changedTo(p, 2)));
    for (const s of swaps) {
      expect(s.rev).toBe(r2);
      expect(Math.abs(s.at! - instant)).toBeLessThan(TOLERANCE_MS);
      expect(s.pending).toBeNull();
    }

    // Started after the instant: the new value at once, nothing pending.
    lateNode.send("go");
    const late = await ready(lateNode);
    expect(late.value).toEqual({ n: 2 });
    expect(late.rev).toBe(r2);
    expect(late.pending).toBeNull();
  });

  it("cancels a scheduled change with a newer write before its instant", async () => {
    const a = nodes[0]!;
    const current = (await a.state()).rev;
    const instant = Date.now() + 2500;
    const r3 = await putConfig(
      nc,
      GROUP,
      KEY,
      { n: 3 },
      { activateAtMs: instant, previousRevision: current },
    );
    expect((await pendingOf(a)).revision).toBe(r3);
    // The cancel: the old content again, without activate_at.
    const r4 = await putConfig(nc, GROUP, KEY, { n: 2 });
    await waitUntil(async () => (await a.state()).pending === null);
    await new Promise((r) => setTimeout(r, instant - Date.now() + 500));
    const after = await a.state();
    expect(after.value).toEqual({ n: 2 });
    expect(after.rev).toBe(r4);
    expect(a.lines.some((l) => l.ev === "change" && l.value?.n === 3)).toBe(false);
  });
});

describe("scheduled activation in one process", () => {
  it("swaps every connection before any handler runs, and the value stops being pending with the swap", async () => {
    const key = "multi";
    const r1 = await putConfig(nc, GROUP, key, { n: 1 });
    const kons = await Promise.all(
      ["one", "two"].map((id) =>
        Konorkestra.connect({
          ...nats.clientOptions(),
          group: GROUP,
          nodeId: `in-process-${id}`,
          snapshotDir: mkdtempSync(join(stateDir, `${id}-`)),
          logger: silentLogger,
        }),
      ),
    );
    try {
      const schema = z.object({ n: z.number() });
      const [a, b] = await Promise.all(kons.map((k) => k.config(key, schema)));
      const r2 = await putConfig(
        nc,
        GROUP,
        key,
        { n: 2 },
        { activateAtMs: Date.now() + 1500, previousRevision: r1 },
      );
      const seen: { other: unknown; pending: unknown; otherPending: unknown }[] = [];
      const pair = [a!, b!];
      const both = new Promise<void>((resolve) => {
        pair.forEach((h, i) => {
          const other = pair[1 - i]!;
          h.onChange(() => {
            seen.push({ other: other.value, pending: h.pending, otherPending: other.pending });
            if (seen.length === 2) resolve();
          });
        });
      });
      expect(a!.pending?.revision ?? (await waitPending(a!))).toBe(r2);
      expect(b!.pending?.revision ?? (await waitPending(b!))).toBe(r2);
      await both;
      // Whichever connection's handler ran first, the other one already held the new value.
      expect(seen).toEqual([
        { other: { n: 2 }, pending: undefined, otherPending: undefined },
        { other: { n: 2 }, pending: undefined, otherPending: undefined },
      ]);
    } finally {
      await Promise.all(kons.map((k) => k.close()));
    }
  });
});

async function waitPending(h: { pending?: { revision: number } }): Promise<number> {
  for (let i = 0; i < 100 && !h.pending; i++) await new Promise((r) => setTimeout(r, 20));
  return h.pending?.revision ?? 0;
}

async function pendingOf(p: NodeProcess): Promise<NonNullable<NodeLine["pending"]>> {
  let s = await p.state();
  for (let i = 0; i < 50 && !s.pending; i++) {
    await new Promise((r) => setTimeout(r, 50));
    s = await p.state();
  }
  if (!s.pending) throw new Error("nothing pending");
  return s.pending;
}

async function waitUntil(cond: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}
