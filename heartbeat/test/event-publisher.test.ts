import type { JetStreamClient } from "@nats-io/jetstream";
import { silentLogger } from "@konorkestra/sdk";
import { wireNames } from "@konorkestra/sdk/internal";
import { EventPublisher } from "../src/event-publisher";
import type { Membership } from "../src/membership";
import { createMonitorMetrics } from "../src/metrics";
import type { TrackerEvent } from "../src/node-liveness";

const HANDOVER = 1000;

/** What this monitor knows of the membership; the tests move it. */
interface View {
  owner: string;
  settled: boolean;
  fresh: boolean;
  present: string[];
}

function down(node: string): TrackerEvent {
  return {
    id: `g1.${node}.down.7`,
    kind: "down",
    key: `g1.${node}`,
    group: "g1",
    node,
    atMs: 0,
    reason: "ttl",
    suspect: false,
    body: undefined,
    seq: 7,
    lastBeatAtMs: 0,
  };
}

/** A publisher of monitor "a" on a membership view and a clock the test sets. */
function setup(view: View) {
  let now = 0;
  const sent: string[] = [];
  // The stream is not what is tested here (the integration tests use the real one): record ids.
  const js = {
    publish: (_subject: string, _data: Uint8Array, opts: { msgID: string }) => {
      sent.push(opts.msgID);
      return Promise.resolve({ duplicate: false });
    },
  } as unknown as JetStreamClient;
  const membership = {
    self: "a",
    owner: () => view.owner,
    get isSettled() {
      return view.settled;
    },
    get isFresh() {
      return view.fresh;
    },
    present: () => view.present,
  } as unknown as Membership;
  const publisher = new EventPublisher(
    js,
    wireNames("kon"),
    membership,
    HANDOVER,
    createMonitorMetrics("a"),
    silentLogger,
    () => now,
  );
  return {
    publisher,
    sent,
    at: async (ms: number) => {
      now = ms;
      publisher.tick();
      await publisher.flush();
    },
  };
}

const both = (owner: string): View => ({
  owner,
  settled: true,
  fresh: true,
  present: ["a", "b"],
});

describe("EventPublisher: one monitor publishes each event", () => {
  it("publishes at once as the settled owner, holds as a just-joined one", async () => {
    const view = both("a");
    const { publisher, sent, at } = setup(view);
    publisher.submit(down("n1"));
    await at(0);
    expect(sent).toEqual(["g1.n1.down.7"]);
    view.settled = false; // joined less than a lease ago (or not at all)
    publisher.submit(down("n2"));
    await at(HANDOVER - 1);
    expect(sent).toEqual(["g1.n1.down.7"]);
    await at(HANDOVER); // still its own at the due time: now it publishes
    expect(sent).toEqual(["g1.n1.down.7", "g1.n2.down.7"]);
  });

  it("drops a held event whose owner is the same at the due time (the owner published it)", async () => {
    const { publisher, sent, at } = setup(both("b"));
    publisher.submit(down("n1"));
    await at(HANDOVER);
    expect(publisher.heldCount).toBe(0);
    await at(10 * HANDOVER);
    expect(sent).toEqual([]);
  });

  it("publishes a held event that became its own, re-holds one that moved to a third", async () => {
    const view: View = { ...both("b"), present: ["a", "b", "c"] };
    const { publisher, sent, at } = setup(view);
    publisher.submit(down("n1"));
    publisher.submit(down("n2"));
    view.owner = "c"; // b dropped out: c owns both now (by this view)
    await at(HANDOVER);
    expect(sent).toEqual([]);
    expect(publisher.heldCount).toBe(2);
    await at(2 * HANDOVER); // c still owns them: c publishes, this one drops them
    expect(publisher.heldCount).toBe(0);
    publisher.submit(down("n3")); // owner c
    view.owner = "a";
    await at(3 * HANDOVER);
    expect(sent).toEqual(["g1.n3.down.7"]);
  });

  it("decides nothing on a stale view, and publishes at the latest after 4 handover times", async () => {
    const view: View = { owner: "b", settled: false, fresh: false, present: ["a"] };
    const { publisher, sent, at } = setup(view);
    publisher.submit(down("n1")); // alone by a stale view: not trusted
    await at(3 * HANDOVER);
    expect(sent).toEqual([]);
    expect(publisher.heldCount).toBe(1);
    await at(4 * HANDOVER);
    expect(sent).toEqual(["g1.n1.down.7"]);
  });

  it("publishes at once when alone by a fresh view, held events included", async () => {
    const view = both("b");
    const { publisher, sent, at } = setup(view);
    publisher.submit(down("n1"));
    await at(1);
    expect(sent).toEqual([]);
    view.present = ["a"]; // b is gone and the view is fresh: nobody else can report
    await at(2);
    expect(sent).toEqual(["g1.n1.down.7"]);
    publisher.submit(down("n2"));
    await at(3);
    expect(sent).toEqual(["g1.n1.down.7", "g1.n2.down.7"]);
  });
});
