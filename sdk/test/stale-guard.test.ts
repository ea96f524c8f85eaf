import { KonError, KonErrorCode, StaleConfigError } from "../src";
import { RevisionTracker } from "../src/config/revision-tracker";
import { FreshnessTracker, guardRun } from "../src/config/stale-guard";
import type { ContactSource, SourceContact } from "../src/config/stale-guard";

/** A source double: the contact it reports and the revision a direct get would find. */
class FakeSource implements ContactSource {
  contactNow: SourceContact | undefined = undefined;
  latest = 0;
  freshens = 0;
  fail: Error | undefined;
  contact(): SourceContact | undefined {
    return this.contactNow;
  }
  async freshen(): Promise<number> {
    this.freshens++;
    await new Promise((r) => setTimeout(r, 50));
    if (this.fail) throw this.fail;
    return this.latest;
  }
}

const handle = { key: "k", revision: 3, value: { n: 1 } };

describe("FreshnessTracker and guardRun", () => {
  it("runs on a recent server contact with everything delivered applied, without a round trip", async () => {
    const src = new FakeSource();
    const revs = new RevisionTracker();
    revs.advance(3);
    src.contactNow = { atMs: Date.now(), deliveredRevision: 3 };
    const t = new FreshnessTracker(src, revs);
    await expect(guardRun(handle, t, (v) => v.n + 1, { maxStalenessMs: 1000 })).resolves.toBe(2);
    expect(src.freshens).toBe(0);
  });

  it("does not count a contact while a received revision waits to be applied", () => {
    const src = new FakeSource();
    const revs = new RevisionTracker();
    revs.advance(3);
    src.contactNow = { atMs: Date.now(), deliveredRevision: 4 };
    const f = new FreshnessTracker(src, revs).freshness("k");
    expect(f.provenAtMs).toBeUndefined();
    expect(f.why).toBe("revision 4 was received but is not applied yet");
  });

  it("confirms by a direct get when the contact is old, and dates the proof at the request", async () => {
    const src = new FakeSource();
    const revs = new RevisionTracker();
    revs.advance(3);
    src.contactNow = { atMs: Date.now() - 10_000, deliveredRevision: 3 };
    src.latest = 3;
    const t = new FreshnessTracker(src, revs);
    const before = Date.now();
    await expect(guardRun(handle, t, () => "ran", { maxStalenessMs: 500 })).resolves.toBe("ran");
    expect(src.freshens).toBe(1);
    expect(t.freshness("k").provenAtMs).toBeGreaterThanOrEqual(before);
    expect(t.freshness("k").provenAtMs).toBeLessThan(before + 40); // the answer took 50 ms
    // The confirmation now counts as proof: no second round trip within the bound.
    await guardRun(handle, t, () => "again", { maxStalenessMs: 500 });
    expect(src.freshens).toBe(1);
  });

  it("shares one confirmation among concurrent guards of a key", async () => {
    const src = new FakeSource();
    const revs = new RevisionTracker();
    const t = new FreshnessTracker(src, revs);
    await Promise.all(
      Array.from({ length: 5 }, () => guardRun(handle, t, () => 1, { maxStalenessMs: 100 })),
    );
    expect(src.freshens).toBe(1);
  });

  it("throws STALE_CONFIG naming key, revision, since when and why, without calling fn", async () => {
    const src = new FakeSource();
    const revs = new RevisionTracker();
    revs.advance(3);
    const lastContact = Date.now() - 5000;
    src.contactNow = { atMs: lastContact, deliveredRevision: 3 };
    src.fail = new KonError(KonErrorCode.ConfigUnavailable, "config k: no answer from NATS");
    const t = new FreshnessTracker(src, revs);
    let called = false;
    const err = await guardRun(handle, t, () => (called = true), { maxStalenessMs: 1000 }).catch(
      (e: unknown) => e,
    );
    expect(called).toBe(false);
    expect(err).toBeInstanceOf(StaleConfigError);
    const stale = err as StaleConfigError;
    expect(stale.code).toBe("STALE_CONFIG");
    expect(stale).toMatchObject({
      key: "k",
      revision: 3,
      staleSinceMs: lastContact,
      maxStalenessMs: 1000,
    });
    expect(stale.message).toContain(`last confirmed ${new Date(lastContact).toISOString()}`);
    expect(stale.message).toContain("no message or heartbeat from NATS since");
    expect(stale.message).toContain("confirming with NATS failed: config k: no answer from NATS");
    expect(stale.cause).toBe(src.fail);
  });

  it("times out a confirmation whose revision is not applied in time", async () => {
    const src = new FakeSource();
    const revs = new RevisionTracker();
    revs.advance(3);
    src.latest = 4;
    const t = new FreshnessTracker(src, revs);
    const err = await guardRun(handle, t, () => 1, {
      maxStalenessMs: 100,
      confirmTimeoutMs: 120,
    }).catch((e: unknown) => e);
    expect((err as KonError).code).toBe("STALE_CONFIG");
    expect((err as Error).message).toContain("revision 4 not applied within 120 ms");
    expect((err as StaleConfigError).staleSinceMs).toBeUndefined();
    expect((err as Error).message).toContain("never confirmed");
  });

  it("is never stale on a source read directly (no contact method)", async () => {
    const t = new FreshnessTracker({ freshen: () => Promise.resolve(0) }, new RevisionTracker());
    await expect(guardRun(handle, t, () => "ok", { maxStalenessMs: 1 })).resolves.toBe("ok");
  });
});
