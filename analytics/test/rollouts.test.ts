import { computeRollout, percentile } from "../src/domain/rollouts";
import type { NodeRollout, RolloutFacts } from "../src/domain/rollouts";

const node = (id: string, o: Partial<NodeRollout>): NodeRollout => ({
  node: id,
  status: "up",
  revision: null,
  appliedAtMs: null,
  pendingRevision: null,
  rejectedRevision: null,
  rejectedReason: null,
  ...o,
});

describe("percentile (nearest rank)", () => {
  it("picks the rank ceil(p/100 × n)", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([3, 9], 50)).toBe(3);
    expect(percentile([], 50)).toBeNull();
  });
});

describe("computeRollout", () => {
  const facts: RolloutFacts = {
    published: [
      { revision: 12, publishedAtMs: 1000, sha256: "s12" },
      { revision: 10, publishedAtMs: 500, sha256: "s10" },
    ],
    nodes: [
      node("a", { revision: 12 }),
      node("b", { revision: 10, pendingRevision: 12 }),
      node("c", { revision: 10, rejectedRevision: 12, rejectedReason: "n too big" }),
      node("d", { revision: 10 }),
      node("idle", {}), // reports nothing of the key: not a watcher
    ],
    firstApplies: new Map([
      [
        12,
        [
          { node: "a", atMs: 1040 },
          { node: "gone", atMs: 1300 },
        ],
      ],
      [10, [{ node: "a", atMs: 510 }]],
    ]),
  };

  it("counts running, pending, refused and behind per revision among watching nodes", () => {
    const r = computeRollout("g", "k", facts, undefined, 5000);
    expect(r.latestRevision).toBe(12);
    expect(r.liveNodes).toBe(4);
    expect(r.revisions.map((x) => x.revision)).toEqual([12, 10]);
    expect(r.revisions[0]).toMatchObject({
      latest: true,
      publishedAtMs: 1000,
      sha256: "s12",
      running: 1,
      pending: 1,
      refused: 1,
      behind: 3,
      converged: false,
      nodes: { running: ["a"], pending: ["b"], refused: ["c"] },
      convergence: { applied: 2, p50Ms: 40, p99Ms: 300, maxMs: 300 },
    });
    expect(r.revisions[1]).toMatchObject({ running: 3, behind: 0, converged: true });
    expect(r.behind).toEqual([
      { node: "b", revision: 10, state: "pending", reason: null },
      { node: "c", revision: 10, state: "refused", reason: "n too big" },
      { node: "d", revision: 10, state: "behind", reason: null },
    ]);
  });

  it("takes the latest revision and its time from KV when no published event says it", () => {
    const r = computeRollout(
      "g",
      "k",
      { ...facts, published: [] },
      { revision: 13, sha256: "s13", updatedAtMs: 2000 },
      5000,
    );
    expect(r.latestRevision).toBe(13);
    expect(r.revisions[0]).toMatchObject({
      revision: 13,
      latest: true,
      publishedAtMs: 2000,
      sha256: "s13",
      running: 0,
      behind: 4,
    });
    // A revision nodes run but with no published event: listed, without a publish time.
    expect(r.revisions.find((x) => x.revision === 10)?.publishedAtMs).toBeNull();
    expect(r.revisions.find((x) => x.revision === 10)?.convergence.p50Ms).toBeNull();
  });

  it("has no revisions when nothing is known", () => {
    const r = computeRollout(
      "g",
      "k",
      { published: [], nodes: [], firstApplies: new Map() },
      undefined,
    );
    expect(r.revisions).toEqual([]);
    expect(r.latestRevision).toBeNull();
  });
});
