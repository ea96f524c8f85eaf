import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { Konorkestra, silentLogger } from "../src";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { readStreamWhenUp, sleep, waitUntil } from "./heartbeat-collector";

// Around a restart a core subscriber may miss beats (it reconnects on its own schedule), so these
// tests read what the server actually received: stream KON_HB, which survives the restart.
describe("heartbeat client across NATS outages", () => {
  let nats: NatsServer;
  let reader: NatsConnection;

  beforeAll(async () => {
    nats = await startNats();
    reader = await connect({
      ...nats.clientOptions(),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
  });
  afterAll(async () => {
    await reader?.close();
    await nats?.stop();
  });

  it("pauses while the server is down and resumes after, seq continuing", async () => {
    const kon = await Konorkestra.connect({
      ...nats.clientOptions(),
      group: "g",
      nodeId: "r1",
      logger: silentLogger,
    });
    try {
      const hb = kon.heartbeat({ intervalMs: 200 });
      await waitUntil("3 beats", () => hb.seq >= 3);

      await nats.shutdown();
      const downAt = Date.now();
      await sleep(300); // let the client see the disconnect
      const seqWhileDown = hb.seq;
      await sleep(1200); // six intervals with no server
      expect(hb.seq).toBe(seqWhileDown); // nothing built, nothing buffered for later
      const restartAt = Date.now();
      await nats.restart();

      await waitUntil("2 beats after the restart", () => hb.seq >= seqWhileDown + 2);
      const stored = await readStreamWhenUp(
        reader,
        "KON_HB",
        "kon.hb.g.r1",
        "them in KON_HB",
        (bs) => bs.some((b) => b.seq === seqWhileDown + 2),
      );
      // No beat stamped during the outage reached the server (none was flushed on reconnect).
      const duringOutage = stored.filter(
        (b) => b.sentAtMs > downAt + 300 && b.sentAtMs < restartAt,
      );
      expect(duringOutage).toEqual([]);
      // The first beat after the restart takes the next seq: the outage consumed none.
      const after = stored.filter((b) => b.sentAtMs >= restartAt);
      expect(after[0]?.seq).toBe(seqWhileDown + 1);
      const seqs = stored.map((b) => b.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
    } finally {
      await kon.close();
    }
  });

  it("starts offline, begins with seq 1 once NATS is up; stop() offline does not hang", async () => {
    await nats.shutdown();
    const kon = await Konorkestra.connect({
      ...nats.clientOptions(),
      group: "g",
      nodeId: "r2",
      connectTimeoutMs: 100,
      offlineStart: "snapshot",
      logger: silentLogger,
    });
    try {
      expect(kon.online).toBe(false);
      const hb = kon.heartbeat({ intervalMs: 200 });
      await sleep(500);
      expect(hb.seq).toBe(0);
      await nats.restart();
      await waitUntil("the first beat", () => hb.seq >= 1);
      const stored = await readStreamWhenUp(
        reader,
        "KON_HB",
        "kon.hb.g.r2",
        "it in KON_HB",
        (bs) => bs.length > 0,
      );
      expect(stored[0]).toMatchObject({ seq: 1, nodeId: "r2", leaving: false });

      // Stopping while the server is down: no leaving beat can go out, and stop() returns.
      await nats.shutdown();
      await sleep(300);
      const before = hb.seq;
      await hb.stop();
      expect(hb.running).toBe(false);
      expect(hb.seq).toBe(before);
    } finally {
      await kon.close();
      if (!nats.running) await nats.restart();
    }
  });
});
