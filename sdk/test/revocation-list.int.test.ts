import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { RevocationList } from "../src/auth/revocation-list";
import { ensureRevokedBucket } from "../src/wire/buckets";
import { wireNames } from "../src/wire/names";

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("RevocationList follows <prefix>_revoked", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  const lists: RevocationList[] = [];
  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ ...nats.clientOptions(), name: "revocation-test" });
  });
  afterAll(async () => {
    for (const l of lists) l.close();
    await nc?.close();
    await nats?.stop();
  });

  it("is ready and empty when the bucket does not exist, and picks it up when it appears", async () => {
    const names = wireNames("rl1");
    const list = RevocationList.start(nc, names, { retryMs: 100 });
    lists.push(list);
    await list.ready();
    expect(list.size).toBe(0);
    const kv = await ensureRevokedBucket(nc, names);
    await kv.put("tok-1", JSON.stringify({ revokedAt: Date.now() }));
    await until("tok-1 revoked", () => list.has("tok-1"));
  });

  it("reads what was revoked before it started before it says ready, then follows live", async () => {
    const names = wireNames("rl2");
    const kv = await ensureRevokedBucket(nc, names);
    for (let i = 0; i < 50; i++) await kv.put(`old-${i}`, JSON.stringify({ revokedAt: 1 }));
    const list = RevocationList.start(nc, names);
    lists.push(list);
    expect(list.isReady).toBe(false);
    await list.ready();
    expect(list.size).toBe(50);
    expect(list.has("old-49")).toBe(true);
    expect(list.has("never")).toBe(false);
    await kv.put("new-1", JSON.stringify({ revokedAt: 2 }));
    await until("new-1 revoked", () => list.has("new-1"));
    // An entry removed (an operator undoing a mistaken revocation) is no longer revoked.
    await kv.delete("old-0");
    await until("old-0 restored", () => !list.has("old-0"));
  });

  it("keeps following after the server restarts", async () => {
    const names = wireNames("rl3");
    const kv = await ensureRevokedBucket(nc, names);
    const list = RevocationList.start(nc, names, { retryMs: 100 });
    lists.push(list);
    await list.ready();
    await nats.shutdown();
    await nats.restart();
    await until("reconnected", () => !nc.isClosed() && nc.info !== undefined, 15_000);
    await until(
      "put after restart seen",
      () => {
        void kv.put("after", "{}").catch(() => undefined);
        return list.has("after");
      },
      20_000,
    );
  });
});
