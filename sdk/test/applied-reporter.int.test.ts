import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { ConfigEvent, decodeMessage } from "@konorkestra/proto";
import { z } from "zod";
import { Konorkestra, silentLogger } from "../src";
import { ensureConfigBucket, wireNames } from "../src/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { putConfig } from "./helpers/put-config";
import { waitFor } from "./helpers/wait-for";

const Svc = z.object({ n: z.number() });

interface Seen {
  eventId: string;
  kind: number;
  key: string;
  node: string;
  revision: number;
  pending: number;
  atMs: number;
  sha256: string;
}

// config.applied from real SDK connections, read off a real nats-server: which revision each node
// runs (stamped with the apply time), one event per key per batch, and pending revisions.
describe("config.applied reporter", () => {
  let nats: NatsServer;
  let admin: NatsConnection;
  let sub: Subscription;
  let snapshotDir: string;
  const seen: Seen[] = [];
  const kons: Konorkestra[] = [];

  async function node(nodeId: string): Promise<Konorkestra> {
    const k = await Konorkestra.connect({
      ...nats.clientOptions(),
      group: "ap",
      nodeId,
      snapshotDir,
      logger: silentLogger,
    });
    kons.push(k);
    return k;
  }

  const of = (node: string, key: string): Seen[] =>
    seen.filter((e) => e.node === node && e.key === key);

  beforeAll(async () => {
    nats = await startNats();
    admin = await connect(nats.clientOptions());
    await ensureConfigBucket(admin, wireNames(), "ap");
    snapshotDir = mkdtempSync(join(tmpdir(), "kon-applied-"));
    sub = admin.subscribe("kon.evt.ap.config.applied", {
      callback: (_e, m) => {
        const e = decodeMessage(ConfigEvent, m.data);
        seen.push({
          eventId: e.eventId,
          kind: e.kind,
          key: e.key,
          node: e.nodeId,
          revision: Number(e.revision),
          pending: Number(e.pendingRevision),
          atMs: Number(e.atMs),
          sha256: e.sha256,
        });
      },
    });
  });
  afterAll(async () => {
    for (const k of kons) await k.close();
    sub?.unsubscribe();
    await admin?.close();
    await nats?.stop();
    rmSync(snapshotDir, { recursive: true, force: true });
  });

  it("reports the revision each node applied, stamped with the time it applied it", async () => {
    const r1 = await putConfig(admin, "ap", "svc", { n: 1 });
    const [a, b] = [await node("a"), await node("b")];
    const [ca, cb] = [await a.config("svc", Svc), await b.config("svc", Svc)];
    await waitFor("both report r1", () => of("a", "svc").length > 0 && of("b", "svc").length > 0);
    expect(of("a", "svc")[0]).toMatchObject({
      kind: ConfigEvent.Kind.APPLIED,
      revision: r1,
      pending: 0,
      sha256: ca.meta.sha256,
    });
    expect(of("a", "svc")[0]!.eventId).toMatch(new RegExp(`^app:ap:svc:${r1}:a:\\d+$`));
    const before = Date.now();
    const r2 = await putConfig(admin, "ap", "svc", { n: 2 });
    await waitFor("both report r2", () =>
      ["a", "b"].every((n) => of(n, "svc").some((e) => e.revision === r2)),
    );
    const e = of("b", "svc").find((x) => x.revision === r2)!;
    expect(e.atMs).toBeGreaterThanOrEqual(before);
    expect(e.atMs).toBe(b.applied.get("svc")!.appliedAtMs);
    expect(cb.revision).toBe(r2);
  });

  it("sends one event per key per batch: a burst of swaps ends in the newest revision", async () => {
    const a = kons[0]!;
    const cfg = await a.config("svc", Svc);
    const start = of("a", "svc").length;
    let swaps = 0;
    const off = cfg.onChange(() => void swaps++);
    let last = 0;
    for (let i = 0; i < 8; i++) last = await putConfig(admin, "ap", "svc", { n: 10 + i });
    await waitFor("newest reported", () => of("a", "svc").some((x) => x.revision === last));
    off();
    const burst = of("a", "svc").slice(start);
    expect(swaps).toBeGreaterThan(burst.length);
    expect(burst[burst.length - 1]!.revision).toBe(last);
  });

  it("reports a pending revision with the one still running", async () => {
    const a = kons[0]!;
    const cur = a.applied.get("svc")!;
    // The scheduler (activate_at) and the strong-commit path write pendingRevision this way.
    a.applied.set("svc", { ...cur, pendingRevision: cur.revision + 5 });
    await waitFor("pending reported", () => of("a", "svc").some((x) => x.pending > 0));
    expect(of("a", "svc").find((x) => x.pending > 0)).toMatchObject({
      revision: cur.revision,
      pending: cur.revision + 5,
    });
    const pendingEvent = of("a", "svc").find((x) => x.pending > 0)!;
    expect(pendingEvent.eventId).toMatch(
      new RegExp(`^app:ap:svc:${cur.revision}:p${cur.revision + 5}:a:\\d+$`),
    );
    // Cancelled: back to the running revision alone. A new fact, so a new id (not dropped by
    // the stream's duplicate window as a repeat of the first report of this revision).
    const n = of("a", "svc").length;
    a.applied.set("svc", { ...cur, pendingRevision: 0 });
    await waitFor("cancel reported", () => of("a", "svc").length > n);
    const cancel = of("a", "svc")[n]!;
    expect(cancel).toMatchObject({ revision: cur.revision, pending: 0 });
    expect(new Set(of("a", "svc").map((x) => x.eventId)).size).toBe(of("a", "svc").length);
  });

  it("lands in KON_EVENTS, so analytics' durable consumer gets every event", async () => {
    const jsm = await jetstreamManager(admin);
    const msg = await jsm.streams.getMessage("KON_EVENTS", {
      last_by_subj: "kon.evt.ap.config.applied",
    });
    expect(decodeMessage(ConfigEvent, msg!.data).kind).toBe(ConfigEvent.Kind.APPLIED);
  });
});
